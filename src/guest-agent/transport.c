#include "transport.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "util.h"

/* musl-gcc has no kernel headers: <linux/vm_sockets.h> spelled out. */
#ifndef AF_VSOCK
#define AF_VSOCK 40
#endif
struct sockaddr_vm_compat {
	unsigned short svm_family;
	unsigned short svm_reserved1;
	unsigned int svm_port;
	unsigned int svm_cid;
	unsigned char svm_zero[4];
};
#define VMADDR_CID_ANY_COMPAT 0xFFFFFFFFu

/* Finds /dev/vportNpM whose /sys/class/virtio-ports/vportNpM/name is `name`. */
static int find_virtio_port(const char *name, char *dev, size_t size)
{
	DIR *d = opendir("/sys/class/virtio-ports");
	if (!d)
		return -1;
	struct dirent *e;
	int found = -1;
	while ((e = readdir(d))) {
		if (e->d_name[0] == '.')
			continue;
		char path[512], value[128];
		snprintf(path, sizeof(path), "/sys/class/virtio-ports/%s/name", e->d_name);
		if (read_small_file(path, value, sizeof(value)) < 0 || strcmp(value, name) != 0)
			continue;
		snprintf(dev, size, "/dev/%s", e->d_name);
		found = 0;
		break;
	}
	closedir(d);
	return found;
}

static int open_virtio(struct transport *t)
{
	char dev[300];
	if (find_virtio_port(t->port_name, dev, sizeof(dev)) < 0)
		return -1;
	int fd = open(dev, O_RDWR | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
	if (fd < 0) {
		/* EBUSY: someone else holds the port (a port opens only once) */
		if (errno != ENOENT)
			log_msg("cannot open %s: %s", dev, strerror(errno));
		return -1;
	}
	t->kind = TRANSPORT_VIRTIO;
	t->fd = fd;
	t->connected = 0;
	log_debug("using virtio port %s (%s)", dev, t->port_name);
	return 0;
}

static int open_vsock(struct transport *t)
{
	int fd = socket(AF_VSOCK, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -1;
	struct sockaddr_vm_compat a;
	memset(&a, 0, sizeof(a));
	a.svm_family = AF_VSOCK;
	a.svm_port = t->vsock_port;
	a.svm_cid = VMADDR_CID_ANY_COMPAT;
	if (bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(fd, 4) < 0) {
		close(fd);
		return -1;
	}
	t->kind = TRANSPORT_VSOCK;
	t->listen_fd = fd;
	t->fd = -1;
	t->connected = 0;
	log_debug("listening on vsock port %u", t->vsock_port);
	return 0;
}

static int open_unix(struct transport *t)
{
	struct sockaddr_un a;
	memset(&a, 0, sizeof(a));
	a.sun_family = AF_UNIX;
	if (strlen(t->unix_path) >= sizeof(a.sun_path)) {
		log_msg("unix socket path too long: %s", t->unix_path);
		return -1;
	}
	strcpy(a.sun_path, t->unix_path);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
		log_msg("cannot connect to %s: %s", t->unix_path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	set_nonblock(fd);
	t->fd = fd;
	t->connected = 1;
	return 0;
}

int transport_open(struct transport *t)
{
	t->fd = -1;
	t->listen_fd = -1;
	if (t->kind == TRANSPORT_UNIX)
		return open_unix(t);
	int warned = 0;
	uint64_t started = now_ms();
	for (;;) {
		if ((t->kind == TRANSPORT_AUTO || t->kind == TRANSPORT_VIRTIO) && open_virtio(t) == 0)
			return 0;
		/* In auto mode prefer the virtio port: give its driver a moment before vsock. */
		if ((t->kind == TRANSPORT_VSOCK ||
		     (t->kind == TRANSPORT_AUTO && now_ms() - started > 1000)) &&
		    open_vsock(t) == 0)
			return 0;
		if (!warned && now_ms() - started > 3000) {
			log_msg("waiting for the agent channel (virtio port '%s' or vsock port %u)",
				t->port_name, t->vsock_port);
			warned = 1;
		}
		sleep_ms(100);
	}
}

int transport_accept(struct transport *t)
{
	int fd = accept4(t->listen_fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
	if (fd < 0)
		return 0;
	if (t->fd >= 0)
		close(t->fd);
	t->fd = fd;
	t->connected = 1;
	log_debug("host connected over vsock");
	return 1;
}

int transport_lost(struct transport *t)
{
	switch (t->kind) {
	case TRANSPORT_UNIX:
		return 1;
	case TRANSPORT_VSOCK:
		if (t->fd >= 0)
			close(t->fd);
		t->fd = -1;
		t->connected = 0;
		return 0;
	default:
		t->connected = 0;
		log_debug("host disconnected");
		return 0;
	}
}

int transport_probe(struct transport *t)
{
	struct pollfd p = {.fd = t->fd, .events = POLLIN | POLLOUT};
	if (poll(&p, 1, 0) < 0)
		return 0;
	/* virtio_console reports POLLHUP whenever no host is connected, even with data queued;
	 * queued data still needs reading first, so POLLIN counts as connected. */
	if ((p.revents & POLLHUP) && !(p.revents & POLLIN))
		return 0;
	t->connected = 1;
	log_debug("host connected");
	return 1;
}
