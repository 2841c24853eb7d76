#include "restore.h"
#include "sshd-socket.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <net/if.h>
#include <net/if_arp.h>
#include <net/route.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "netcfg.h"
#include "proto.h"
#include "util.h"

/* musl-gcc has no kernel headers: <linux/random.h> spelled out. */
#define RNDADDENTROPY_COMPAT _IOW('R', 0x03, int[2])
#define RNDRESEEDCRNG_COMPAT _IO('R', 0x07)
#define RESOLV_MARKER "# Written by banger-init"
#define SSH_DIR "/etc/ssh"

static void fail(struct restore_result *res, uint32_t part, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void fail(struct restore_result *res, uint32_t part, const char *fmt, ...)
{
	res->failed |= part;
	char line[512];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	log_msg("restore: %s", line);
	size_t len = strlen(line);
	if (res->messages_len + len + 1 > sizeof(res->messages))
		return;
	memcpy(res->messages + res->messages_len, line, len + 1);
	res->messages_len += len + 1;
	res->nmessages++;
}

static void rooted(char *out, size_t size, const struct restore_options *opt, const char *path)
{
	snprintf(out, size, "%s%s", opt->root ? opt->root : "", path);
}

/* Writes `text` to `path` through a temporary file and rename (readers never see half a
 * file). Never follows a symlink planted at the temporary name. The agent syncs once after
 * answering (wrote_files): a VM killed right after still has its own identity on
 * disk for its next cold boot, rather than the template's. */
static int write_atomic(const char *path, const char *text, mode_t mode)
{
	char tmp[PATH_MAX];
	if (snprintf(tmp, sizeof(tmp), "%s.banger-tmp", path) >= (int)sizeof(tmp)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	unlink(tmp);
	int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, mode);
	if (fd < 0)
		return -1;
	size_t len = strlen(text), off = 0;
	while (off < len) {
		ssize_t w = write(fd, text + off, len - off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			int saved = errno;
			close(fd);
			unlink(tmp);
			errno = saved ? saved : EIO;
			return -1;
		}
		off += (size_t)w;
	}
	if (fchmod(fd, mode) < 0) {
		int saved = errno;
		close(fd);
		unlink(tmp);
		errno = saved;
		return -1;
	}
	close(fd);
	if (rename(tmp, path) < 0) {
		int saved = errno;
		unlink(tmp);
		errno = saved;
		return -1;
	}
	return 0;
}

/* Writes `text` over a regular file of exactly its length, mode and owner (the agent's, as
 * write_atomic makes it), in place: no inode, directory entry or rename for ext4 to journal,
 * which is most of what a first file write after a restore costs (emulated, every kernel path
 * is translated anew). Only where nobody reads the file mid-write: before the user's first
 * command. 1 when the file is not like that (missing, another size, mode or owner, a second
 * hard link that must not change with it, not writable): the caller writes it whole. */
static int overwrite_same_size(const char *path, const char *text, mode_t mode)
{
	size_t len = strlen(text);
	int fd = open(path, O_WRONLY | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY);
	if (fd < 0)
		return 1;
	struct stat st;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || (st.st_mode & 07777) != mode ||
	    st.st_uid != geteuid() || st.st_nlink != 1 || st.st_size != (off_t)len ||
	    pwrite(fd, text, len, 0) != (ssize_t)len) {
		close(fd);
		return 1;
	}
	return close(fd) < 0 ? -1 : 0;
}

/* In place where the file allows it (see overwrite_same_size), else whole (write_atomic). */
static int write_replacing(const char *path, const char *text, mode_t mode)
{
	int rc = overwrite_same_size(path, text, mode);
	return rc > 0 ? write_atomic(path, text, mode) : rc;
}

/* 1 when `path` (not a symlink) holds exactly `text`: then there is nothing to write. */
static int holds_exactly(const char *path, const char *text)
{
	char cur[2048];
	size_t len = strlen(text), got = 0;
	if (len >= sizeof(cur))
		return 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY);
	if (fd < 0)
		return 0;
	for (;;) {
		ssize_t r = read(fd, cur + got, sizeof(cur) - got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		got += (size_t)r;
		if (got == sizeof(cur))
			break;
	}
	close(fd);
	return got == len && memcmp(cur, text, len) == 0;
}

/* ---- the parts ------------------------------------------------------------------------- */

/* Host randomness credited to the input pool, then a forced reseed: without it every clone
 * would go on drawing the same /dev/urandom bytes from the saved CRNG state. */
static void apply_entropy(const struct restore_request *req, struct restore_result *res)
{
	if (req->entropy_len == 0 || req->entropy_len > BP_RESTORE_MAX_ENTROPY) {
		fail(res, BP_RESTORE_ENTROPY, "entropy: %zu bytes (1..%d expected)", req->entropy_len,
		     BP_RESTORE_MAX_ENTROPY);
		return;
	}
	struct {
		int entropy_count;
		int buf_size;
		uint8_t buf[BP_RESTORE_MAX_ENTROPY];
	} info;
	info.entropy_count = (int)(req->entropy_len * 8);
	info.buf_size = (int)req->entropy_len;
	memcpy(info.buf, req->entropy, req->entropy_len);
	int fd = open("/dev/urandom", O_RDWR | O_CLOEXEC);
	if (fd < 0) {
		fail(res, BP_RESTORE_ENTROPY, "entropy: cannot open /dev/urandom: %s", strerror(errno));
		return;
	}
	if (ioctl(fd, RNDADDENTROPY_COMPAT, &info) < 0) {
		fail(res, BP_RESTORE_ENTROPY, "entropy: RNDADDENTROPY: %s", strerror(errno));
		close(fd);
		return;
	}
	if (ioctl(fd, RNDRESEEDCRNG_COMPAT) < 0) {
		fail(res, BP_RESTORE_ENTROPY, "entropy: RNDRESEEDCRNG: %s", strerror(errno));
		close(fd);
		return;
	}
	close(fd);
	res->applied |= BP_RESTORE_ENTROPY;
}

static void apply_time(const struct restore_request *req, const struct restore_options *opt,
		       struct restore_result *res)
{
	if (opt->test_transport)
		return; /* the test transport runs on a developer's machine: leave its clock alone */
	if (req->time_ns <= 0) {
		fail(res, BP_RESTORE_TIME, "time: %lld is not a time", (long long)req->time_ns);
		return;
	}
	struct timespec ts = {.tv_sec = (time_t)(req->time_ns / 1000000000LL),
			      .tv_nsec = (long)(req->time_ns % 1000000000LL)};
	if (clock_settime(CLOCK_REALTIME, &ts) < 0) {
		fail(res, BP_RESTORE_TIME, "time: clock_settime: %s", strerror(errno));
		return;
	}
	res->applied |= BP_RESTORE_TIME;
}

static int hostname_ok(const char *name)
{
	size_t n = strlen(name);
	if (n == 0 || n > 64)
		return 0;
	for (const char *c = name; *c; c++)
		if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') ||
		      (*c >= '0' && *c <= '9') || *c == '-' || *c == '.'))
			return 0;
	return 1;
}

static void apply_hostname(const struct restore_request *req, struct restore_result *res)
{
	if (!req->hostname || !hostname_ok(req->hostname)) {
		fail(res, BP_RESTORE_HOSTNAME, "hostname: %s is not a host name",
		     req->hostname ? req->hostname : "(none)");
		return;
	}
	if (sethostname(req->hostname, strlen(req->hostname)) < 0) {
		fail(res, BP_RESTORE_HOSTNAME, "hostname: %s", strerror(errno));
		return;
	}
	res->applied |= BP_RESTORE_HOSTNAME;
}

static void apply_machine_id(const struct restore_request *req, const struct restore_options *opt,
			     struct restore_result *res)
{
	const char *id = req->machine_id;
	int ok = id && strlen(id) == 32;
	for (int i = 0; ok && i < 32; i++)
		ok = (id[i] >= '0' && id[i] <= '9') || (id[i] >= 'a' && id[i] <= 'f');
	if (!ok) {
		fail(res, BP_RESTORE_MACHINE_ID, "machine-id: not 32 lowercase hex digits");
		return;
	}
	char path[PATH_MAX];
	rooted(path, sizeof(path), opt, "/etc/machine-id");
	struct stat st;
	if (lstat(path, &st) == 0 && !S_ISREG(st.st_mode)) {
		/* a symlink (to /run/machine-id, say) belongs to the image's own scheme */
		fail(res, BP_RESTORE_MACHINE_ID, "machine-id: %s is not a regular file: left as is",
		     path);
		return;
	}
	char text[40];
	snprintf(text, sizeof(text), "%s\n", id);
	if (write_replacing(path, text, 0444) < 0) {
		fail(res, BP_RESTORE_MACHINE_ID, "machine-id: cannot write %s: %s", path,
		     strerror(errno));
		return;
	}
	res->wrote_files = 1;
	res->applied |= BP_RESTORE_MACHINE_ID;
}

static int parse_mac(const char *text, unsigned char mac[6])
{
	unsigned v[6];
	char extra;
	if (sscanf(text, "%2x:%2x:%2x:%2x:%2x:%2x%c", &v[0], &v[1], &v[2], &v[3], &v[4], &v[5],
		   &extra) != 6)
		return -1;
	for (int i = 0; i < 6; i++)
		mac[i] = (unsigned char)v[i];
	return 0;
}

static int set_flags(int s, const char *ifname, int up)
{
	struct ifreq ifr;
	memset(&ifr, 0, sizeof(ifr));
	strncpy(ifr.ifr_name, ifname, IFNAMSIZ - 1);
	if (ioctl(s, SIOCGIFFLAGS, &ifr) < 0)
		return -1;
	if (up)
		ifr.ifr_flags |= IFF_UP;
	else
		ifr.ifr_flags &= ~IFF_UP;
	return ioctl(s, SIOCSIFFLAGS, &ifr);
}

/* Removes the default routes through `ifname` (the template's gateway may not be ours). */
static void drop_default_routes(int s, const char *ifname)
{
	for (int i = 0; i < 8; i++) {
		struct rtentry rt;
		memset(&rt, 0, sizeof(rt));
		struct sockaddr_in any;
		memset(&any, 0, sizeof(any));
		any.sin_family = AF_INET;
		memcpy(&rt.rt_dst, &any, sizeof(any));
		memcpy(&rt.rt_genmask, &any, sizeof(any));
		rt.rt_dev = (char *)ifname;
		if (ioctl(s, SIOCDELRT, &rt) < 0)
			return;
	}
}

/* A fresh IPv6 link-local address (derived from the new MAC): toggling disable_ipv6 makes the
 * kernel drop the old addresses and configure the interface anew. No-op without IPv6. */
static void renew_ipv6(const char *ifname)
{
	char path[128], value[8];
	snprintf(path, sizeof(path), "/proc/sys/net/ipv6/conf/%s/disable_ipv6", ifname);
	if (read_small_file(path, value, sizeof(value)) <= 0 || strcmp(value, "0") != 0)
		return;
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	if (write(fd, "1", 1) == 1) {
		lseek(fd, 0, SEEK_SET);
		if (write(fd, "0", 1) != 1)
			log_msg("restore: could not enable IPv6 on %s again: %s", ifname, strerror(errno));
	}
	close(fd);
}

static int set_mac(int s, const char *ifname, const unsigned char mac[6])
{
	struct ifreq ifr;
	memset(&ifr, 0, sizeof(ifr));
	strncpy(ifr.ifr_name, ifname, IFNAMSIZ - 1);
	ifr.ifr_hwaddr.sa_family = ARPHRD_ETHER;
	memcpy(ifr.ifr_hwaddr.sa_data, mac, 6);
	return ioctl(s, SIOCSIFHWADDR, &ifr);
}

/*
 * The saved guest kept the template's MAC and address (they are device and kernel state, not
 * read from the new command line). virtio-net changes its MAC while the link is up (the
 * device is told through its control queue); a driver that cannot goes down for it. Then the
 * IPv6 link-local address is made anew from the new MAC, and the IPv4 address and default
 * route are set as banger-init does at boot.
 */
static void apply_network(const struct restore_request *req, struct restore_result *res)
{
	const char *ifname = req->iface && *req->iface ? req->iface : "eth0";
	unsigned char mac[6];
	if (strlen(ifname) >= IFNAMSIZ || !req->mac || parse_mac(req->mac, mac) < 0) {
		fail(res, BP_RESTORE_NETWORK, "network: bad interface name or MAC %s",
		     req->mac ? req->mac : "(none)");
		return;
	}
	if (if_nametoindex(ifname) == 0) {
		fail(res, BP_RESTORE_NETWORK, "network: no interface %s", ifname);
		return;
	}
	int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (s < 0) {
		fail(res, BP_RESTORE_NETWORK, "network: socket: %s", strerror(errno));
		return;
	}
	drop_default_routes(s, ifname);
	int rc = set_mac(s, ifname, mac);
	if (rc < 0 && errno == EBUSY && set_flags(s, ifname, 0) == 0) {
		rc = set_mac(s, ifname, mac);
		int saved = errno;
		net_link_up(ifname);
		errno = saved;
	}
	int mac_err = errno;
	close(s);
	if (rc < 0) {
		fail(res, BP_RESTORE_NETWORK, "network: cannot set MAC %s on %s: %s", req->mac, ifname,
		     strerror(mac_err));
		return;
	}
	renew_ipv6(ifname);
	if (req->address && *req->address) {
		char err[256];
		if (net_configure(ifname, req->address, req->gateway, err, sizeof(err)) < 0) {
			fail(res, BP_RESTORE_NETWORK, "network: %s", err);
			return;
		}
	} else if (net_link_up(ifname) < 0) {
		fail(res, BP_RESTORE_NETWORK, "network: cannot bring %s up: %s", ifname,
		     strerror(errno));
		return;
	}
	res->applied |= BP_RESTORE_NETWORK;
}

/* The resolver list banger-init wrote at boot (/run/banger/resolv.conf), for this VM. */
static void apply_dns(const struct restore_request *req, const struct restore_options *opt,
		      struct restore_result *res)
{
	char text[1024];
	size_t off = (size_t)snprintf(text, sizeof(text), RESOLV_MARKER " from banger.dns\n");
	for (int i = 0; i < req->ndns; i++) {
		struct in_addr a;
		struct in6_addr a6;
		if (inet_pton(AF_INET, req->dns[i], &a) != 1 && inet_pton(AF_INET6, req->dns[i], &a6) != 1) {
			fail(res, BP_RESTORE_DNS, "dns: %s is not an IP address", req->dns[i]);
			return;
		}
		if (off < sizeof(text))
			off += (size_t)snprintf(text + off, sizeof(text) - off, "nameserver %s\n",
						req->dns[i]);
	}
	char dir[PATH_MAX], path[PATH_MAX];
	rooted(dir, sizeof(dir), opt, "/run/banger");
	rooted(path, sizeof(path), opt, "/run/banger/resolv.conf");
	mkdir(dir, 0755);
	/* A clone on its template's network without NAT has the template's resolvers already. */
	if (!holds_exactly(path, text) && write_atomic(path, text, 0644) < 0) {
		fail(res, BP_RESTORE_DNS, "dns: cannot write %s: %s", path, strerror(errno));
		return;
	}
	res->applied |= BP_RESTORE_DNS;
}

static int key_text_ok(const char *text, int multiline)
{
	if (!text || !*text || strlen(text) > 16384)
		return 0;
	for (const char *c = text; *c; c++) {
		unsigned char u = (unsigned char)*c;
		if (u == '\n' && multiline)
			continue;
		if (u < 0x20 || u > 0x7e)
			return 0;
	}
	return 1;
}

/* The saved guest's SSH host keys are every clone's: this VM gets the ed25519 key the host
 * made for it (the host pins that key), and the other types go, since every clone would
 * share them too. sshd re-reads its keys on SIGHUP (it re-executes itself, same pid). */
static void apply_ssh_key(const struct restore_request *req, const struct restore_options *opt,
			  struct restore_result *res)
{
	if (!key_text_ok(req->ssh_private, 1) || !key_text_ok(req->ssh_public, 0) ||
	    strncmp(req->ssh_private, "-----BEGIN OPENSSH PRIVATE KEY-----", 35) != 0) {
		fail(res, BP_RESTORE_SSH_HOST_KEY, "ssh host key: malformed key");
		return;
	}
	char dir[PATH_MAX];
	rooted(dir, sizeof(dir), opt, SSH_DIR);
	struct stat st;
	if (lstat(dir, &st) < 0 || !S_ISDIR(st.st_mode))
		return; /* no OpenSSH in this image: nothing to give a key to (not applied) */
	char path[PATH_MAX], pub[PATH_MAX + 8], line[17000];
	rooted(path, sizeof(path), opt, SSH_HOST_KEY);
	snprintf(pub, sizeof(pub), "%s.pub", path);
	size_t plen = strlen(req->ssh_private);
	snprintf(line, sizeof(line), "%s%s", req->ssh_private,
		 plen > 0 && req->ssh_private[plen - 1] != '\n' ? "\n" : "");
	/* In place when the saved guest has a key of banger's making (warm templates get a
	 * throwaway one before they are saved): the same format, so the same sizes. */
	if (write_replacing(path, line, 0600) < 0) {
		fail(res, BP_RESTORE_SSH_HOST_KEY, "ssh host key: cannot write %s: %s", path,
		     strerror(errno));
		return;
	}
	snprintf(line, sizeof(line), "%s\n", req->ssh_public);
	if (write_replacing(pub, line, 0644) < 0) {
		fail(res, BP_RESTORE_SSH_HOST_KEY, "ssh host key: cannot write %s: %s", pub,
		     strerror(errno));
		return;
	}
	static const char *const others[] = {"rsa", "dsa", "ecdsa"};
	for (size_t i = 0; i < sizeof(others) / sizeof(others[0]); i++) {
		char other[PATH_MAX + 32];
		snprintf(other, sizeof(other), "%s/ssh_host_%s_key", dir, others[i]);
		unlink(other);
		strncat(other, ".pub", sizeof(other) - strlen(other) - 1);
		unlink(other);
	}
	res->applied |= BP_RESTORE_SSH_HOST_KEY;
	res->wrote_files = 1;
	if (opt->root && *opt->root)
		return; /* the test transport: no sshd of ours to reload */
	/* OpenSSH before 9.8 re-executes sshd for each connection, which reads the host keys
	 * from disk: the new key is served at once, and a reload (sshd re-executing itself, a
	 * few hundred ms of emulated CPU next to the user's first command) is not needed. From
	 * 9.8 a long-lived listener hands its keys to sshd-session: that one must reload. */
	static const char *const session[] = {"/usr/lib/openssh/sshd-session",
					      "/usr/libexec/openssh/sshd-session",
					      "/usr/libexec/sshd-session", "/usr/sbin/sshd-session"};
	int reload = 0;
	for (size_t i = 0; i < sizeof(session) / sizeof(session[0]); i++)
		reload |= access(session[i], X_OK) == 0;
	char pidtext[32];
	if (reload && read_small_file("/run/sshd.pid", pidtext, sizeof(pidtext)) > 0) {
		long pid = strtol(pidtext, NULL, 10);
		if (pid > 1 && kill((pid_t)pid, SIGHUP) < 0 && errno != ESRCH)
			fail(res, BP_RESTORE_SSH_HOST_KEY, "ssh host key: cannot reload sshd: %s",
			     strerror(errno));
	}
}

void restore_apply(const struct restore_request *req, const struct restore_options *opt,
		   struct restore_result *res)
{
	memset(res, 0, sizeof(*res));
	if (req->flags & BP_RESTORE_ENTROPY)
		apply_entropy(req, res);
	if (req->flags & BP_RESTORE_TIME)
		apply_time(req, opt, res);
	if (req->flags & BP_RESTORE_HOSTNAME)
		apply_hostname(req, res);
	if (req->flags & BP_RESTORE_MACHINE_ID)
		apply_machine_id(req, opt, res);
	if (req->flags & BP_RESTORE_NETWORK)
		apply_network(req, res);
	if (req->flags & BP_RESTORE_DNS)
		apply_dns(req, opt, res);
	if (req->flags & BP_RESTORE_SSH_HOST_KEY)
		apply_ssh_key(req, opt, res);
}

static int cmdline_has(const char *word)
{
	static char line[8192];
	if (read_small_file("/proc/cmdline", line, sizeof(line)) < 0)
		return 0;
	size_t n = strlen(word);
	for (char *p = strstr(line, word); p; p = strstr(p + 1, word)) {
		char before = p == line ? ' ' : p[-1];
		char after = p[n];
		if ((before == ' ' || before == '\t') && (after == 0 || after == ' ' || after == '\n'))
			return 1;
	}
	return 0;
}

uint32_t prepare_save(unsigned timeout_ms)
{
	uint32_t flags = 0;
	/* banger-init makes the host key on the first ssh connection (sshd-socket.c): a save in
	 * the middle would leave every clone finishing the same half-made key. */
	if (access(SSHD_PATH, X_OK) == 0 && !cmdline_has("banger.sshd=0")) {
		uint64_t end = now_ms() + timeout_ms;
		int lock = open(SSH_KEYGEN_LOCK, O_RDWR | O_CLOEXEC | O_NOFOLLOW);
		int free = lock < 0; /* no lock file: no key was ever being made */
		while (!free && !(free = flock(lock, LOCK_EX | LOCK_NB) == 0) && now_ms() < end)
			sleep_ms(20);
		if (lock >= 0)
			close(lock);
		flags |= free ? BP_SAVE_SSHD : BP_SAVE_TIMEOUT;
	}
	sync();
	return flags;
}
