/*
 * Where the agent's byte stream comes from. Three kinds, one protocol:
 *  - virtio: a virtio-serial port found by name (QEMU). One long-lived fd; the host side
 *    comes and goes (read() == 0 / POLLHUP while nobody is connected).
 *  - vsock: an AF_VSOCK listener (Firecracker). One accepted connection at a time; a new
 *    connection replaces the old one.
 *  - unix: connect to a unix socket (tests on the host, no VM). The agent exits when it closes.
 */
#ifndef BANGER_TRANSPORT_H
#define BANGER_TRANSPORT_H

enum transport_kind { TRANSPORT_AUTO, TRANSPORT_VIRTIO, TRANSPORT_VSOCK, TRANSPORT_UNIX };

struct transport {
	enum transport_kind kind;
	int fd;        /* the byte stream, or -1 (vsock: no connection yet) */
	int listen_fd; /* vsock only */
	int connected; /* virtio: a host is connected; others: fd >= 0 */
	const char *port_name;
	unsigned vsock_port;
	const char *unix_path;
};

/* Blocks until the transport exists (the virtio port appeared, the vsock listener is bound,
 * the unix socket is connected). Returns 0 or -1 with a message logged. */
int transport_open(struct transport *t);
/* vsock: accepts a pending connection, replacing the current one. Returns 1 when replaced. */
int transport_accept(struct transport *t);
/* Called when the stream reports EOF or a hang-up. Returns 1 when the agent should exit
 * (unix), 0 otherwise (virtio waits for the next host, vsock for the next connection). */
int transport_lost(struct transport *t);
/* virtio: checks without blocking whether a host is connected now. */
int transport_probe(struct transport *t);

#endif
