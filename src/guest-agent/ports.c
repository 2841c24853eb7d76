/*
 * Listening TCP sockets of the guest. /proc/net/tcp{,6} print each address as the
 * native-endian u32 words of the network-order bytes ("%08X" per word), so the words are
 * parsed and copied back as they lie in memory; the port is printed in host order.
 */
#include "ports.h"

#include <ctype.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "proto.h"
#include "util.h"

#define TCP_LISTEN_STATE 0x0A

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* n hex digits of s into *v; -1 when they are not hex. */
static int parse_hex(const char *s, int n, uint32_t *v)
{
	uint32_t x = 0;
	for (int i = 0; i < n; i++) {
		int d = hexval(s[i]);
		if (d < 0)
			return -1;
		x = (x << 4) | (uint32_t)d;
	}
	*v = x;
	return 0;
}

/* "0100007F:1F90" (or 32 hex digits for IPv6) into addr and port. */
static int parse_endpoint(const char *s, int family, uint8_t *addr, uint16_t *port)
{
	int words = family == 4 ? 1 : 4;
	for (int w = 0; w < words; w++) {
		uint32_t v;
		if (parse_hex(s + 8 * w, 8, &v) < 0)
			return -1;
		memcpy(addr + 4 * w, &v, 4);
	}
	if (s[8 * words] != ':')
		return -1;
	uint32_t p;
	if (parse_hex(s + 8 * words + 1, 4, &p) < 0)
		return -1;
	*port = (uint16_t)p;
	return 0;
}

static void scan_file(const char *path, int family, struct port_list *out)
{
	FILE *f = fopen(path, "re");
	if (!f)
		return; /* no IPv6 in this kernel, for instance */
	char line[512];
	if (!fgets(line, sizeof(line), f)) { /* header */
		fclose(f);
		return;
	}
	while (fgets(line, sizeof(line), f)) {
		/* sl local rem st tx:rx tr:when retr uid timeout inode */
		char local[64], state[8];
		unsigned long inode = 0;
		if (sscanf(line, " %*s %63s %*s %7s %*s %*s %*s %*s %*s %lu", local, state, &inode) < 2)
			continue;
		uint32_t st;
		if (parse_hex(state, 2, &st) < 0 || st != TCP_LISTEN_STATE)
			continue;
		struct listen_port e;
		memset(&e, 0, sizeof(e));
		e.family = (uint8_t)family;
		if (parse_endpoint(local, family, e.addr, &e.port) < 0 || e.port == 0)
			continue;
		e.inode = inode;
		if (out->n >= PORTS_MAX) {
			out->truncated = 1;
			break;
		}
		out->e[out->n++] = e;
	}
	fclose(f);
}

static int cmp_port(const void *pa, const void *pb)
{
	const struct listen_port *a = pa, *b = pb;
	if (a->port != b->port)
		return a->port < b->port ? -1 : 1;
	if (a->family != b->family)
		return a->family < b->family ? -1 : 1;
	int c = memcmp(a->addr, b->addr, 16);
	if (c)
		return c;
	return a->inode < b->inode ? -1 : a->inode > b->inode;
}

void ports_scan(struct port_list *out)
{
	out->n = 0;
	out->truncated = 0;
	scan_file("/proc/net/tcp", 4, out);
	scan_file("/proc/net/tcp6", 6, out);
	qsort(out->e, out->n, sizeof(out->e[0]), cmp_port);
	/* SO_REUSEPORT groups show one line per socket: one entry per address and port. */
	size_t w = 0;
	for (size_t i = 0; i < out->n; i++) {
		if (w > 0 && out->e[w - 1].port == out->e[i].port &&
		    out->e[w - 1].family == out->e[i].family &&
		    memcmp(out->e[w - 1].addr, out->e[i].addr, 16) == 0)
			continue;
		out->e[w++] = out->e[i];
	}
	out->n = w;
}

int ports_equal(const struct port_list *a, const struct port_list *b)
{
	if (a->n != b->n)
		return 0;
	for (size_t i = 0; i < a->n; i++)
		if (cmp_port(&a->e[i], &b->e[i]) != 0)
			return 0;
	return 1;
}

static int all_digits(const char *s)
{
	if (!*s)
		return 0;
	for (; *s; s++)
		if (!isdigit((unsigned char)*s))
			return 0;
	return 1;
}

void ports_resolve(struct port_list *list, const struct port_list *known)
{
	size_t missing = 0;
	for (size_t i = 0; i < list->n; i++) {
		struct listen_port *e = &list->e[i];
		if (e->pid)
			continue;
		for (size_t k = 0; known && k < known->n; k++) {
			if (known->e[k].inode == e->inode && known->e[k].pid) {
				e->pid = known->e[k].pid;
				memcpy(e->comm, known->e[k].comm, sizeof(e->comm));
				break;
			}
		}
		if (!e->pid && e->inode)
			missing++;
	}
	if (missing == 0)
		return;
	DIR *proc = opendir("/proc");
	if (!proc)
		return;
	struct dirent *d;
	char path[600], link[64];
	while (missing > 0 && (d = readdir(proc))) {
		if (!all_digits(d->d_name))
			continue;
		snprintf(path, sizeof(path), "/proc/%s/fd", d->d_name);
		DIR *fds = opendir(path);
		if (!fds)
			continue;
		struct dirent *fd;
		while (missing > 0 && (fd = readdir(fds))) {
			if (!all_digits(fd->d_name))
				continue;
			snprintf(path, sizeof(path), "/proc/%s/fd/%s", d->d_name, fd->d_name);
			ssize_t n = readlink(path, link, sizeof(link) - 1);
			if (n < 9 || strncmp(link, "socket:[", 8) != 0)
				continue;
			link[n] = 0;
			unsigned long inode = strtoul(link + 8, NULL, 10);
			for (size_t i = 0; i < list->n; i++) {
				struct listen_port *e = &list->e[i];
				if (e->pid || e->inode != inode)
					continue;
				e->pid = (uint32_t)strtoul(d->d_name, NULL, 10);
				snprintf(path, sizeof(path), "/proc/%s/comm", d->d_name);
				read_small_file(path, e->comm, sizeof(e->comm));
				missing--;
			}
		}
		closedir(fds);
	}
	closedir(proc);
}

size_t ports_encode(const struct port_list *list, uint32_t request_id, uint8_t *p)
{
	memset(p, 0, 12 + list->n * PORTS_ENTRY_SIZE);
	bp_put32(p, request_id);
	bp_put32(p + 4, (uint32_t)list->n);
	p[8] = list->truncated ? 1 : 0;
	for (size_t i = 0; i < list->n; i++) {
		const struct listen_port *e = &list->e[i];
		uint8_t *q = p + 12 + i * PORTS_ENTRY_SIZE;
		q[0] = e->family;
		bp_put16(q + 2, e->port);
		memcpy(q + 4, e->addr, 16);
		bp_put32(q + 20, e->pid);
		memcpy(q + 24, e->comm, strnlen(e->comm, 15));
	}
	return 12 + list->n * PORTS_ENTRY_SIZE;
}
