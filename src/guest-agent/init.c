/*
 * banger-init: PID 1 of a banger guest. Mounts the basics, applies the banger.* kernel
 * arguments (hostname, IPv4 address, DNS, work disk), starts banger-agent and keeps it
 * running, serves port 22 with an `sshd -i` per connection (sshd-socket.c), reaps orphans,
 * and powers off cleanly on request. Every step that fails is
 * logged as "banger-init: ..." on the console and skipped: the agent is the lifeline.
 *
 * Power requests (see docs/agent-protocol.md, "Shutdown"):
 *   SIGUSR1, SIGTERM, SIGINT (Ctrl-Alt-Del), SIGPWR -> power off
 *   SIGUSR2                                         -> reboot
 */

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <sys/mount.h>
#include <sys/reboot.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "netcfg.h"
#include "sshd-socket.h"
#include "util.h"

#define AGENT_BACKOFF_MIN_MS 100
#define AGENT_BACKOFF_MAX_MS 5000
/* An agent that ran this long before dying starts its backoff afresh. */
#define AGENT_STABLE_MS 10000
#define KILL_GRACE_MS 2000
#define RESOLV_MARKER "# Written by banger-init"
#define RESOLV_RUN "/run/banger/resolv.conf"

struct config {
	char hostname[65];
	char ip[64];
	char gw[64];
	char dns[256];
	char workdisk[256];
	char handover[256];
	char agent[256];
	char transport[16]; /* banger.transport=virtio|vsock: the agent channel, skipping the search */
	int poweroff_reboots; /* banger.poweroff=reboot: the VMM ends on a guest reboot (Firecracker) */
	char iface[32];
	char ssh_key[1024]; /* TYPE,BASE64: the host's key for /root/.ssh/authorized_keys */
	int sshd;           /* sshd on demand on port 22 (default 1; banger.sshd=0 turns it off) */
	int debug;
};

static struct config cfg = {.iface = "eth0", .sshd = 1};
static int workdisk_mounted;
static pid_t agent_pid = -1;
static uint64_t agent_started_at;
static unsigned agent_backoff = AGENT_BACKOFF_MIN_MS;
static uint64_t agent_restart_at; /* 0: not pending */
static char agent_path[PATH_MAX];
/* Port 22, served by `sshd -i` per connection (sshd-socket.c); -1 when not listening. */
static struct sshd_socket ssh_socket = {.fd = {-1, -1}};

#define fail_log(...) log_msg(__VA_ARGS__)

/* ---- mounts ---------------------------------------------------------------------------- */

static int is_mountpoint(const char *path)
{
	char parent[PATH_MAX];
	struct stat a, b;
	snprintf(parent, sizeof(parent), "%s/..", path);
	if (stat(path, &a) < 0 || stat(parent, &b) < 0)
		return 0;
	return a.st_dev != b.st_dev;
}

static void ensure_mount(const char *src, const char *target, const char *type,
			 unsigned long flags, const char *data, mode_t mode)
{
	if (mkdir(target, mode) < 0 && errno != EEXIST) {
		fail_log("cannot create %s: %s", target, strerror(errno));
		return;
	}
	if (is_mountpoint(target))
		return;
	if (mount(src, target, type, flags, data) < 0)
		fail_log("cannot mount %s on %s: %s", type, target, strerror(errno));
}

static void setup_console(void)
{
	int fd = open("/dev/console", O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (fd < 0)
		return;
	for (int i = 0; i < 3; i++)
		dup2(fd, i);
	close(fd);
}

static void setup_mounts(void)
{
	ensure_mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL, 0555);
	struct statvfs sv;
	if (statvfs("/", &sv) == 0 && (sv.f_flag & ST_RDONLY)) {
		if (mount(NULL, "/", NULL, MS_REMOUNT, NULL) < 0)
			fail_log("cannot remount / read-write: %s", strerror(errno));
	}
	ensure_mount("sysfs", "/sys", "sysfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL, 0555);
	ensure_mount("devtmpfs", "/dev", "devtmpfs", MS_NOSUID, "mode=0755", 0755);
	setup_console();
	ensure_mount("devpts", "/dev/pts", "devpts", MS_NOSUID | MS_NOEXEC,
		     "gid=5,mode=0620,ptmxmode=0666", 0755);
	ensure_mount("tmpfs", "/dev/shm", "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777", 01777);
	ensure_mount("tmpfs", "/run", "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755", 0755);
	ensure_mount("tmpfs", "/tmp", "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777", 01777);
	/* What udev would have made: bash process substitution and friends need these. */
	static const char *const links[][2] = {{"/proc/self/fd", "/dev/fd"},
					       {"/proc/self/fd/0", "/dev/stdin"},
					       {"/proc/self/fd/1", "/dev/stdout"},
					       {"/proc/self/fd/2", "/dev/stderr"}};
	for (size_t i = 0; i < sizeof(links) / sizeof(links[0]); i++)
		if (symlink(links[i][0], links[i][1]) < 0 && errno != EEXIST)
			fail_log("cannot create %s: %s", links[i][1], strerror(errno));
}

/* ---- kernel command line --------------------------------------------------------------- */

static void set_value(char *dst, size_t size, const char *key, const char *value)
{
	if (strlen(value) >= size) {
		fail_log("%s is too long (max %zu bytes): ignored", key, size - 1);
		return;
	}
	strcpy(dst, value);
}

static void apply_arg(char *arg)
{
	if (strncmp(arg, "banger.", 7) != 0)
		return;
	char *eq = strchr(arg, '=');
	const char *value = eq ? eq + 1 : "";
	if (eq)
		*eq = 0;
	if (strcmp(arg, "banger.hostname") == 0)
		set_value(cfg.hostname, sizeof(cfg.hostname), arg, value);
	else if (strcmp(arg, "banger.ip") == 0)
		set_value(cfg.ip, sizeof(cfg.ip), arg, value);
	else if (strcmp(arg, "banger.gw") == 0)
		set_value(cfg.gw, sizeof(cfg.gw), arg, value);
	else if (strcmp(arg, "banger.dns") == 0)
		set_value(cfg.dns, sizeof(cfg.dns), arg, value);
	else if (strcmp(arg, "banger.workdisk") == 0)
		set_value(cfg.workdisk, sizeof(cfg.workdisk), arg, value);
	else if (strcmp(arg, "banger.init") == 0)
		set_value(cfg.handover, sizeof(cfg.handover), arg, value);
	else if (strcmp(arg, "banger.agent") == 0)
		set_value(cfg.agent, sizeof(cfg.agent), arg, value);
	else if (strcmp(arg, "banger.transport") == 0)
		set_value(cfg.transport, sizeof(cfg.transport), arg, value);
	else if (strcmp(arg, "banger.poweroff") == 0)
		cfg.poweroff_reboots = strcmp(value, "reboot") == 0;
	else if (strcmp(arg, "banger.iface") == 0)
		set_value(cfg.iface, sizeof(cfg.iface), arg, value);
	else if (strcmp(arg, "banger.ssh_key") == 0)
		set_value(cfg.ssh_key, sizeof(cfg.ssh_key), arg, value);
	else if (strcmp(arg, "banger.sshd") == 0)
		cfg.sshd = strcmp(value, "0") != 0;
	else if (strcmp(arg, "banger.debug") == 0)
		cfg.debug = strcmp(value, "0") != 0;
	/* unknown banger.* keys are for newer guests: ignored */
}

/* Splits like the kernel does: spaces separate, double quotes group (and are dropped). */
static void parse_cmdline(void)
{
	static char line[8192];
	if (read_small_file("/proc/cmdline", line, sizeof(line)) < 0) {
		fail_log("cannot read /proc/cmdline: %s", strerror(errno));
		return;
	}
	char *p = line;
	while (*p) {
		while (*p == ' ' || *p == '\t' || *p == '\n')
			p++;
		if (!*p)
			break;
		char *start = p, *out = p;
		int quoted = 0;
		while (*p && (quoted || (*p != ' ' && *p != '\t' && *p != '\n'))) {
			if (*p == '"')
				quoted = !quoted;
			else
				*out++ = *p;
			p++;
		}
		if (*p)
			p++;
		*out = 0;
		apply_arg(start);
	}
}

/* ---- system setup ---------------------------------------------------------------------- */

static void setup_hostname(void)
{
	if (!cfg.hostname[0])
		return;
	for (const char *c = cfg.hostname; *c; c++) {
		if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') ||
		      *c == '-' || *c == '.')) {
			fail_log("banger.hostname=%s: only letters, digits, '-' and '.' allowed",
				 cfg.hostname);
			return;
		}
	}
	if (sethostname(cfg.hostname, strlen(cfg.hostname)) < 0)
		fail_log("cannot set hostname %s: %s", cfg.hostname, strerror(errno));
}

static void setup_network(void)
{
	if (net_link_up("lo") < 0)
		fail_log("cannot bring lo up: %s", strerror(errno));
	if (!cfg.ip[0])
		return;
	if (net_wait_link(cfg.iface, 3000) < 0) {
		fail_log("network interface %s not found: banger.ip=%s not applied", cfg.iface, cfg.ip);
		return;
	}
	char err[256];
	if (net_configure(cfg.iface, cfg.ip, cfg.gw, err, sizeof(err)) < 0)
		fail_log("%s", err);
}

static int write_file(const char *path, const char *text, mode_t mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, mode);
	if (fd < 0)
		return -1;
	size_t len = strlen(text);
	ssize_t w = write(fd, text, len);
	int saved = errno;
	close(fd);
	errno = saved;
	return w == (ssize_t)len ? 0 : -1;
}

/*
 * DNS: the servers go to /run/banger/resolv.conf (a fresh tmpfs, always writable).
 * /etc/resolv.conf becomes a symlink to it only when that loses nothing: it is missing, empty,
 * a dangling symlink, already our symlink, or a file we wrote earlier. An image's own
 * resolv.conf (a real file, or a live symlink) is left alone and the skip is logged.
 */
static void setup_dns(void)
{
	if (!cfg.dns[0])
		return;
	char text[1024];
	size_t off = (size_t)snprintf(text, sizeof(text), RESOLV_MARKER " from banger.dns\n");
	char list[sizeof(cfg.dns)];
	strcpy(list, cfg.dns);
	for (char *save = NULL, *tok = strtok_r(list, ",", &save); tok;
	     tok = strtok_r(NULL, ",", &save)) {
		if (off < sizeof(text))
			off += (size_t)snprintf(text + off, sizeof(text) - off, "nameserver %s\n", tok);
	}
	mkdir("/run/banger", 0755);
	if (write_file(RESOLV_RUN, text, 0644) < 0) {
		fail_log("cannot write %s: %s", RESOLV_RUN, strerror(errno));
		return;
	}
	struct stat st;
	int replace = 0;
	if (lstat("/etc/resolv.conf", &st) < 0) {
		replace = errno == ENOENT;
	} else if (S_ISLNK(st.st_mode)) {
		char target[PATH_MAX];
		ssize_t n = readlink("/etc/resolv.conf", target, sizeof(target) - 1);
		if (n > 0) {
			target[n] = 0;
			if (strcmp(target, RESOLV_RUN) == 0)
				return;
		}
		struct stat t;
		replace = stat("/etc/resolv.conf", &t) < 0; /* dangling */
	} else if (S_ISREG(st.st_mode)) {
		/* an empty file (what banger's image builder leaves) holds nothing to lose */
		char head[64];
		replace = st.st_size == 0 ||
			  (read_small_file("/etc/resolv.conf", head, sizeof(head)) >= 0 &&
			   strncmp(head, RESOLV_MARKER, strlen(RESOLV_MARKER)) == 0);
	}
	if (!replace) {
		fail_log("/etc/resolv.conf belongs to the image: left as is (banger.dns servers are "
			 "in " RESOLV_RUN ")");
		return;
	}
	unlink("/etc/.resolv.conf.banger");
	if (symlink(RESOLV_RUN, "/etc/.resolv.conf.banger") < 0 ||
	    rename("/etc/.resolv.conf.banger", "/etc/resolv.conf") < 0)
		fail_log("cannot point /etc/resolv.conf at " RESOLV_RUN ": %s", strerror(errno));
}

/* Images ship an empty /etc/machine-id so that VMs do not share one: make this VM's. */
static void setup_machine_id(void)
{
	struct stat st;
	if (lstat("/etc/machine-id", &st) < 0 || !S_ISREG(st.st_mode) || st.st_size != 0)
		return;
	unsigned char raw[16];
	int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
	if (fd < 0 || read(fd, raw, sizeof(raw)) != (ssize_t)sizeof(raw)) {
		fail_log("cannot read /dev/urandom for /etc/machine-id");
		if (fd >= 0)
			close(fd);
		return;
	}
	close(fd);
	char id[34];
	for (int i = 0; i < 16; i++)
		snprintf(id + 2 * i, 3, "%02x", raw[i]);
	id[32] = '\n';
	id[33] = 0;
	if (chmod("/etc/machine-id", 0444) < 0 || write_file("/etc/machine-id", id, 0444) < 0)
		fail_log("cannot write /etc/machine-id: %s", strerror(errno));
}

static void setup_workdisk(void)
{
	if (!cfg.workdisk[0])
		return;
	uint64_t end = now_ms() + 5000;
	struct stat st;
	while (stat(cfg.workdisk, &st) < 0 && now_ms() < end)
		sleep_ms(10);
	if (mkdir("/root", 0700) < 0 && errno != EEXIST) {
		fail_log("cannot create /root: %s", strerror(errno));
		return;
	}
	if (mount(cfg.workdisk, "/root", "ext4", MS_NOATIME, NULL) < 0) {
		fail_log("cannot mount work disk %s on /root: %s", cfg.workdisk, strerror(errno));
		return;
	}
	workdisk_mounted = 1;
}

/* ---- ssh ------------------------------------------------------------------------------- */

/*
 * banger.ssh_key=TYPE,BASE64 (no spaces, so no quoting on the command line): the line
 * "TYPE BASE64 banger" goes into /root/.ssh/authorized_keys unless the key is already there.
 * Runs after the work disk is mounted on /root; never follows a symlink.
 */
static void setup_ssh_key(void)
{
	if (!cfg.ssh_key[0])
		return;
	char *comma = strchr(cfg.ssh_key, ',');
	if (!comma || comma == cfg.ssh_key || !comma[1]) {
		fail_log("banger.ssh_key must be TYPE,BASE64: ignored");
		return;
	}
	*comma = 0;
	const char *type = cfg.ssh_key, *blob = comma + 1;
	for (const char *c = type; *c; c++)
		if (!((*c >= 'a' && *c <= 'z') || (*c >= '0' && *c <= '9') || *c == '-' || *c == '@' ||
		      *c == '.')) {
			fail_log("banger.ssh_key: bad key type: ignored");
			return;
		}
	for (const char *c = blob; *c; c++)
		if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') ||
		      *c == '+' || *c == '/' || *c == '=')) {
			fail_log("banger.ssh_key: the key is not base64: ignored");
			return;
		}
	if (mkdir("/root/.ssh", 0700) < 0 && errno != EEXIST) {
		fail_log("cannot create /root/.ssh: %s", strerror(errno));
		return;
	}
	struct stat st;
	if (lstat("/root/.ssh", &st) < 0 || !S_ISDIR(st.st_mode)) {
		fail_log("/root/.ssh is not a directory: ssh key not installed");
		return;
	}
	int fd = open("/root/.ssh/authorized_keys",
		      O_RDWR | O_CREAT | O_APPEND | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0) {
		fail_log("cannot open /root/.ssh/authorized_keys: %s", strerror(errno));
		return;
	}
	/* Already there? Look for the blob as a whole word (the file is small). */
	static char text[65536];
	ssize_t n = read(fd, text, sizeof(text) - 1);
	if (n < 0)
		n = 0;
	text[n] = 0;
	size_t blen = strlen(blob);
	for (char *p = strstr(text, blob); p; p = strstr(p + 1, blob)) {
		char before = p == text ? ' ' : p[-1];
		char after = p[blen];
		if ((before == ' ' || before == '\t') &&
		    (after == 0 || after == ' ' || after == '\t' || after == '\n' || after == '\r')) {
			close(fd);
			return;
		}
	}
	char line[sizeof(cfg.ssh_key) + 16];
	int len = snprintf(line, sizeof(line), "%s%s %s banger\n",
			   n > 0 && text[n - 1] != '\n' ? "\n" : "", type, blob);
	if (len < 0 || write(fd, line, (size_t)len) != len)
		fail_log("cannot write /root/.ssh/authorized_keys: %s", strerror(errno));
	close(fd);
}

static void reset_signals_for_child(void);

static int sshd_wanted(void)
{
	return cfg.sshd && access(SSHD_PATH, X_OK) == 0;
}

/* ---- the agent ------------------------------------------------------------------------- */

static void find_agent(void)
{
	if (cfg.agent[0]) {
		snprintf(agent_path, sizeof(agent_path), "%s", cfg.agent);
		return;
	}
	char self[PATH_MAX - 32];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n > 0) {
		self[n] = 0;
		char *slash = strrchr(self, '/');
		if (slash) {
			*slash = 0;
			snprintf(agent_path, sizeof(agent_path), "%s/banger-agent", self);
			if (access(agent_path, X_OK) == 0)
				return;
		}
	}
	static const char *const candidates[] = {"/usr/sbin/banger-agent", "/sbin/banger-agent",
						 "/usr/local/sbin/banger-agent"};
	for (size_t i = 0; i < sizeof(candidates) / sizeof(candidates[0]); i++) {
		if (access(candidates[i], X_OK) == 0) {
			snprintf(agent_path, sizeof(agent_path), "%s", candidates[i]);
			return;
		}
	}
	snprintf(agent_path, sizeof(agent_path), "%s", candidates[0]);
}

static void reset_signals_for_child(void)
{
	sigset_t none;
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	for (int s = 1; s < NSIG; s++)
		signal(s, SIG_DFL);
}

static void start_agent(void)
{
	agent_restart_at = 0;
	pid_t pid = fork();
	if (pid < 0) {
		fail_log("cannot fork the agent: %s", strerror(errno));
		agent_restart_at = now_ms() + agent_backoff;
		return;
	}
	if (pid == 0) {
		reset_signals_for_child();
		setsid();
		int null = open("/dev/null", O_RDONLY);
		if (null >= 0 && null != 0) {
			dup2(null, 0);
			close(null);
		}
		/* The backend knows the channel (vsock under Firecracker): no second spent looking. */
		int known = strcmp(cfg.transport, "virtio") == 0 || strcmp(cfg.transport, "vsock") == 0;
		char *argv[6];
		int n = 0;
		argv[n++] = agent_path;
		if (known) {
			argv[n++] = "--transport";
			argv[n++] = cfg.transport;
		}
		if (cfg.debug)
			argv[n++] = "--verbose";
		argv[n] = NULL;
		char *envp[] = {"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
				"HOME=/root", "LANG=C.UTF-8", NULL};
		execve(agent_path, argv, envp);
		fail_log("cannot start the agent %s: %s", agent_path, strerror(errno));
		_exit(127);
	}
	agent_pid = pid;
	agent_started_at = now_ms();
}

static void agent_died(int status)
{
	uint64_t ran = now_ms() - agent_started_at;
	if (ran >= AGENT_STABLE_MS)
		agent_backoff = AGENT_BACKOFF_MIN_MS;
	if (WIFSIGNALED(status))
		fail_log("agent killed by signal %d; restarting in %u ms", WTERMSIG(status),
			 agent_backoff);
	else
		fail_log("agent exited with status %d; restarting in %u ms", WEXITSTATUS(status),
			 agent_backoff);
	agent_pid = -1;
	agent_restart_at = now_ms() + agent_backoff;
	agent_backoff = agent_backoff * 2 > AGENT_BACKOFF_MAX_MS ? AGENT_BACKOFF_MAX_MS
								 : agent_backoff * 2;
}

static void reap(void)
{
	for (;;) {
		int st;
		pid_t pid = waitpid(-1, &st, WNOHANG);
		if (pid <= 0)
			return;
		if (pid == agent_pid)
			agent_died(st);
		else
			sshd_socket_reaped(pid);
	}
}

/* ---- power ----------------------------------------------------------------------------- */

static void wait_children(unsigned ms)
{
	uint64_t end = now_ms() + ms;
	for (;;) {
		pid_t r = waitpid(-1, NULL, WNOHANG);
		if (r < 0 && errno == ECHILD)
			return;
		if (r > 0)
			continue;
		if (now_ms() >= end)
			return;
		sleep_ms(10);
	}
}

static void __attribute__((noreturn)) power_down(int reboot_instead)
{
	log_msg("%s", reboot_instead ? "rebooting" : "powering off");
	kill(-1, SIGTERM);
	wait_children(KILL_GRACE_MS);
	kill(-1, SIGKILL);
	wait_children(1000);
	sync();
	if (workdisk_mounted && umount2("/root", 0) < 0)
		fail_log("cannot unmount /root: %s", strerror(errno));
	if (mount(NULL, "/", NULL, MS_REMOUNT | MS_RDONLY, NULL) < 0)
		fail_log("cannot remount / read-only: %s", strerror(errno));
	sync();
	/* QEMU runs with -no-reboot, so a reboot ends the VM as well; the host decides. */
	/* Firecracker has no ACPI power-off: it exits when the guest reboots (reboot=k). */
	reboot(reboot_instead || cfg.poweroff_reboots ? RB_AUTOBOOT : RB_POWER_OFF);
	fail_log("reboot() failed: %s", strerror(errno));
	reboot(RB_AUTOBOOT);
	reboot(RB_HALT_SYSTEM);
	for (;;)
		pause();
}

/* ---- main ------------------------------------------------------------------------------ */

static void on_signal(int sig, int is_pid1)
{
	switch (sig) {
	case SIGCHLD:
		reap();
		break;
	case SIGUSR2:
		if (is_pid1)
			power_down(1);
		break;
	default:
		/* SIGHUP means nothing to PID 1; a supervisor under another init stops on it */
		if (is_pid1 && sig == SIGHUP)
			break;
		if (is_pid1)
			power_down(0);
		if (agent_pid > 0)
			kill(agent_pid, SIGTERM);
		_exit(0);
	}
}

/* Signals (through a signalfd: they stay blocked), the agent's restart timer and, when
 * listening, ssh connections. */
static void supervise(int is_pid1)
{
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGCHLD);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGPWR);
	sigaddset(&set, SIGUSR1);
	sigaddset(&set, SIGUSR2);
	sigaddset(&set, SIGHUP);
	int sigfd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
	if (sigfd < 0) {
		fail_log("signalfd: %s", strerror(errno));
		for (;;)
			pause();
	}
	for (;;) {
		int timeout = -1;
		if (agent_restart_at) {
			uint64_t now = now_ms();
			timeout = agent_restart_at > now ? (int)(agent_restart_at - now) : 0;
		}
		struct pollfd pfd[3] = {{.fd = sigfd, .events = POLLIN},
					{.fd = ssh_socket.fd[0], .events = POLLIN},
					{.fd = ssh_socket.fd[1], .events = POLLIN}};
		int r = poll(pfd, 3, timeout); /* negative fds are skipped */
		if (r > 0 && (pfd[0].revents & POLLIN)) {
			struct signalfd_siginfo si;
			while (read(sigfd, &si, sizeof(si)) == (ssize_t)sizeof(si))
				on_signal((int)si.ssi_signo, is_pid1);
		}
		for (int i = 1; r > 0 && i < 3; i++)
			if (pfd[i].revents & POLLIN)
				sshd_socket_accept(pfd[i].fd, reset_signals_for_child);
		if (agent_restart_at && now_ms() >= agent_restart_at)
			start_agent();
	}
}

int main(void)
{
	log_prefix = "banger-init";
	int is_pid1 = getpid() == 1;
	if (!is_pid1) {
		fprintf(stderr, "banger-init: must run as PID 1 (the kernel's init=)\n");
		return 1;
	}
	sigset_t set;
	sigfillset(&set);
	sigprocmask(SIG_BLOCK, &set, NULL);
	umask(022);
	setup_mounts();
	/* Ctrl-Alt-Del becomes SIGINT for us instead of an instant reboot. */
	reboot(RB_DISABLE_CAD);
	parse_cmdline();
	setup_hostname();
	setup_network();
	setup_dns();
	setup_machine_id();
	setup_workdisk();
	setup_ssh_key();
	find_agent();

	if (cfg.handover[0]) {
		/* The image's init becomes PID 1; a supervisor process keeps the agent alive. */
		pid_t sup = fork();
		if (sup == 0) {
			setsid();
			start_agent();
			log_msg("ready");
			supervise(0);
			_exit(0);
		}
		if (sup < 0)
			fail_log("cannot fork the agent supervisor: %s", strerror(errno));
		reset_signals_for_child();
		char *init_argv[] = {cfg.handover, NULL};
		execv(cfg.handover, init_argv);
		fail_log("cannot hand over to %s: %s; staying as init", cfg.handover, strerror(errno));
		sigprocmask(SIG_BLOCK, &set, NULL);
		if (sup < 0) {
			start_agent();
			log_msg("ready");
		}
		supervise(1);
	}
	/* Port 22 before "ready": a connection right after it finds sshd. Under banger.init the
	 * image's own init runs its ssh service instead. */
	if (sshd_wanted() && sshd_socket_open(&ssh_socket) < 0)
		fail_log("sshd not available: nothing listens on port 22");
	start_agent();
	log_msg("ready");
	supervise(1);
	return 0;
}
