/*
 * sshd on demand: banger-init listens on port 22 itself and starts `sshd -i` for each
 * connection (what Debian's ssh.socket does). An idle sandbox then runs no sshd, costs no
 * memory or emulated CPU for it, and a `vm run` does not share its first seconds with sshd
 * starting; OpenSSH before 9.8 re-executes itself per connection anyway.
 */
#ifndef BANGER_SSHD_SOCKET_H
#define BANGER_SSHD_SOCKET_H

#include <sys/types.h>

#define SSHD_PATH "/usr/sbin/sshd"
#define SSH_KEYGEN_PATH "/usr/bin/ssh-keygen"
#define SSH_HOST_KEY "/etc/ssh/ssh_host_ed25519_key"
/* Held while a host key is made: concurrent first connections make one key, not two, and a
 * warm-template save waits for it (prepare_save in restore.c). */
#define SSH_KEYGEN_LOCK "/run/banger/ssh-keygen.lock"

/* The listening sockets (IPv4, and IPv6 where the guest has it); -1 when none. */
struct sshd_socket {
	int fd[2];
};

/* Binds port 22 on every address. Returns 0 when at least one socket listens. */
int sshd_socket_open(struct sshd_socket *s);

/* Accepts one pending connection on fd and hands it to a new `sshd -i` (at most
 * SSHD_MAX_CONNECTIONS at once; beyond that the connection is closed). child_setup runs in
 * the child first (signals back to their defaults). */
void sshd_socket_accept(int fd, void (*child_setup)(void));

/* Called for every reaped child: forgets it when it was an `sshd -i`. */
void sshd_socket_reaped(pid_t pid);

#endif
