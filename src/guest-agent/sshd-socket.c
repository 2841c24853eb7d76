/* sshd on demand: see sshd-socket.h. */

#include "sshd-socket.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "util.h"

/* As systemd's default MaxConnections for a socket unit: a flood of connections cannot
 * fork the guest to death. */
#define SSHD_MAX_CONNECTIONS 64

static pid_t children[SSHD_MAX_CONNECTIONS];
static int child_count;

static int listen_on(int family)
{
	int fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -1;
	int one = 1;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	int rc;
	if (family == AF_INET6) {
		/* IPv4 has its own socket, as sshd's default ListenAddress pair does */
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
		struct sockaddr_in6 a = {.sin6_family = AF_INET6, .sin6_port = htons(22),
					 .sin6_addr = IN6ADDR_ANY_INIT};
		rc = bind(fd, (struct sockaddr *)&a, sizeof(a));
	} else {
		struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(22),
					.sin_addr = {.s_addr = htonl(INADDR_ANY)}};
		rc = bind(fd, (struct sockaddr *)&a, sizeof(a));
	}
	if (rc < 0 || listen(fd, 64) < 0) {
		int saved = errno;
		close(fd);
		errno = saved;
		return -1;
	}
	return fd;
}

int sshd_socket_open(struct sshd_socket *s)
{
	s->fd[0] = listen_on(AF_INET);
	if (s->fd[0] < 0)
		log_msg("cannot listen on port 22 (IPv4): %s", strerror(errno));
	s->fd[1] = listen_on(AF_INET6); /* no IPv6 in the guest: IPv4 only */
	return s->fd[0] >= 0 || s->fd[1] >= 0 ? 0 : -1;
}

/* Runs argv to completion; its exit status or -1. */
static int run_wait(char *const argv[])
{
	pid_t pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		char *envp[] = {"PATH=/usr/sbin:/usr/bin:/sbin:/bin", NULL};
		execve(argv[0], argv, envp);
		_exit(127);
	}
	int st;
	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR)
			return -1;
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/*
 * The host key, made on the first connection when banger has not given the guest one yet
 * (banger gives it one before its own first ssh use). Only ed25519: an RSA key costs
 * seconds of emulated CPU under TCG and banger's ssh client asks for ed25519 only. Made
 * under a temporary name and renamed, public half first: whoever sees the private key
 * sees its matching public key.
 */
static void ensure_host_key(void)
{
	if (access(SSH_HOST_KEY, F_OK) == 0)
		return;
	mkdir("/run/banger", 0755);
	int lock = open(SSH_KEYGEN_LOCK, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (lock >= 0)
		while (flock(lock, LOCK_EX) < 0 && errno == EINTR)
			;
	if (access(SSH_HOST_KEY, F_OK) != 0) {
#define NEW_KEY SSH_HOST_KEY ".banger-new"
		unlink(NEW_KEY);
		unlink(NEW_KEY ".pub");
		char *keygen[] = {SSH_KEYGEN_PATH, "-q", "-t", "ed25519", "-N", "", "-C", "",
				  "-f", NEW_KEY, NULL};
		if (run_wait(keygen) != 0 || rename(NEW_KEY ".pub", SSH_HOST_KEY ".pub") < 0 ||
		    rename(NEW_KEY, SSH_HOST_KEY) < 0)
			log_msg("could not make the ssh host key " SSH_HOST_KEY);
	}
	if (lock >= 0)
		close(lock);
}

void sshd_socket_accept(int fd, void (*child_setup)(void))
{
	int conn = accept4(fd, NULL, NULL, SOCK_CLOEXEC);
	if (conn < 0)
		return;
	if (child_count >= SSHD_MAX_CONNECTIONS) {
		close(conn);
		return;
	}
	pid_t pid = fork();
	if (pid < 0) {
		log_msg("cannot fork sshd: %s", strerror(errno));
		close(conn);
		return;
	}
	if (pid == 0) {
		child_setup();
		setsid();
		/* sshd -i speaks on stdin/stdout; its log goes to syslog, never into the stream */
		int null = open("/dev/null", O_WRONLY | O_CLOEXEC); /* fd 2 stays, this one goes */
		dup2(conn, 0);
		dup2(conn, 1);
		if (null >= 0)
			dup2(null, 2);
		/* privilege separation directory, as the packaged service unit makes it */
		if (mkdir("/run/sshd", 0755) < 0 && errno != EEXIST)
			log_msg("cannot create /run/sshd: %s", strerror(errno));
		ensure_host_key();
		char *argv[] = {SSHD_PATH, "-i", NULL};
		char *envp[] = {"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
				"LANG=C.UTF-8", NULL};
		execve(SSHD_PATH, argv, envp);
		log_msg("cannot start %s: %s", SSHD_PATH, strerror(errno));
		_exit(127);
	}
	close(conn);
	children[child_count++] = pid;
}

void sshd_socket_reaped(pid_t pid)
{
	for (int i = 0; i < child_count; i++) {
		if (children[i] == pid) {
			children[i] = children[--child_count];
			return;
		}
	}
}
