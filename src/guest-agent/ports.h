/* The guest's listening TCP sockets, from /proc/net/tcp and /proc/net/tcp6 (capability
 * "ports"), with the process that holds each one when it can be found cheaply. */
#ifndef BANGER_PORTS_H
#define BANGER_PORTS_H

#include <stddef.h>
#include <stdint.h>

/* One PORTS entry on the wire is 40 bytes: see docs/agent-protocol.md. */
#define PORTS_ENTRY_SIZE 40
/* Keeps a report inside one frame: 12 + 1024 * 40 bytes. */
#define PORTS_MAX 1024

struct listen_port {
	uint8_t family; /* 4 or 6 */
	uint16_t port;
	uint8_t addr[16]; /* network order; IPv4 in the first 4 bytes */
	unsigned long inode;
	uint32_t pid; /* 0: not found */
	char comm[16];
};

struct port_list {
	struct listen_port e[PORTS_MAX];
	size_t n;
	int truncated;
};

/* Reads the listening sockets, sorted and without duplicates (names not resolved). */
void ports_scan(struct port_list *out);
/* 1 when the two lists hold the same sockets (family, address, port, inode). */
int ports_equal(const struct port_list *a, const struct port_list *b);
/* Fills pid/comm for entries that lack them, by one walk over /proc/PID/fd; entries whose
 * inode appears in `known` take its answer without a walk. */
void ports_resolve(struct port_list *list, const struct port_list *known);
/* Encodes a PORTS payload into p (room for 12 + n * 40 bytes); returns its length. */
size_t ports_encode(const struct port_list *list, uint32_t request_id, uint8_t *p);

#endif
