/*
 * banger-agent: runs commands for the host over one framed, multiplexed byte stream.
 * Protocol: docs/agent-protocol.md. One thread, one poll() loop: every pipe and the transport
 * are non-blocking, and per-stream credit (WINDOW frames) bounds every buffer.
 */

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/reboot.h>
#include <sys/ioctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include "frame.h"
#include "ports.h"
#include "proto.h"
#include "restore.h"
#include "spawn.h"
#include "transport.h"
#include "util.h"

#ifndef BANGER_VERSION
#define BANGER_VERSION "0.0.0-dev"
#endif

#define MAX_CHANNELS 256
#define MAX_ARGS 4096
/* Stop reading process output while this much is waiting for the transport... */
#define OUTQ_SOFT (256 * 1024)
/* ...and stop reading the transport itself past this (a host that sends but never reads). */
#define OUTQ_HARD (4 * 1024 * 1024)
#define READ_CHUNK 65536
#define DISCONNECTED_POLL_MS 10
/* If PID 1 has not powered the machine off this long after we asked, do it ourselves. */
#define SHUTDOWN_FALLBACK_MS 15000
/* A FORWARD_OPEN whose connect has not finished by then fails with ETIMEDOUT. */
#define CONNECT_TIMEOUT_MS 10000
/* After a RESTORE that wrote files (machine-id, SSH host key), sync this much later. */
#define RESTORE_SYNC_DELAY_MS 2000
/* When a new watch sends its first report (see handle_ports_watch). */
#define PORTS_FIRST_REPORT_MS 250

enum chan_kind { CH_EXEC = 0, CH_FORWARD = 1 };

/*
 * A channel is an exec session (a process and its pipes) or a forward (one TCP socket: in_fd
 * is the socket, out_fd[0] a dup of it, so the stdin and stdout pumps serve both kinds).
 */
struct channel {
	int used;
	int kind;
	uint32_t id;
	/* forward only */
	int connecting;
	uint64_t connect_deadline;
	int sock_err; /* first socket error (errno), reported in FORWARD_CLOSED */
	char target[64];
	pid_t pid;
	int reaped, wstatus;
	int tty;
	int host_closed; /* CLOSE received: output is discarded, EXIT still follows */
	/* stdin (host -> process) */
	int in_fd;
	struct buf inq;
	int in_fin;         /* the host sent FIN */
	int in_fin_applied; /* pipe closed, or VEOF queued (tty) */
	int in_dropped;     /* the process closed its stdin: discard what comes */
	uint32_t in_window; /* bytes the host may still send */
	uint32_t in_to_grant;
	int in_line_start; /* tty: the last byte written was a newline (or nothing yet) */
	/* stdout, stderr (process -> host) */
	int out_fd[2];
	uint32_t out_credit[2];
	int out_done[2];
};

static struct transport tp = {.kind = TRANSPORT_AUTO,
			      .port_name = "banger.agent",
			      .vsock_port = 1024,
			      .fd = -1,
			      .listen_fd = -1};
static struct buf inbuf, outq;
static struct channel chans[MAX_CHANNELS];
static int session_active;
static uint8_t session_nonce[BP_NONCE_SIZE];
static int no_session_reported;
static int bad_frame_reported;
static int sigfd = -1;
/* PORTS_WATCH: the interval (0: nobody watches), the next poll, the last report sent. */
static unsigned ports_watch_ms;
static uint64_t ports_next_at;
/* The next poll reports whatever it finds (the first one of a watch). */
static int ports_report_next;
static struct port_list ports_last, ports_now;
static uint8_t ports_payload[12 + PORTS_MAX * PORTS_ENTRY_SIZE];
static uint64_t shutdown_fallback_at;
static int shutdown_kind;
/* A restore wrote identity files: sync them at this time (0: nothing pending). */
static uint64_t restore_sync_at;
/* RESTORE over the unix test transport writes its files under this directory. */
static const char *restore_root = "";

/* ---- output ---------------------------------------------------------------------------- */

static void put_frame(uint8_t type, uint8_t flags, uint32_t channel, const void *p, size_t n)
{
	if (frame_put(&outq, type, flags, channel, p, n) < 0)
		log_msg("out of memory queueing a frame (type 0x%02x)", type);
}

static void send_error(uint32_t channel, uint32_t code, uint8_t ref_type, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static void send_error(uint32_t channel, uint32_t code, uint8_t ref_type, const char *fmt, ...)
{
	uint8_t p[8 + 400];
	bp_put32(p, code);
	p[4] = ref_type;
	p[5] = p[6] = p[7] = 0;
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf((char *)p + 8, sizeof(p) - 8, fmt, ap);
	va_end(ap);
	if (n < 0)
		n = 0;
	if ((size_t)n > sizeof(p) - 9)
		n = (int)(sizeof(p) - 9);
	put_frame(BP_ERROR, 0, channel, p, 8 + (size_t)n);
}

static void send_window(uint32_t channel, uint8_t stream, uint32_t inc)
{
	uint8_t p[8] = {stream, 0, 0, 0};
	bp_put32(p + 4, inc);
	put_frame(BP_WINDOW, 0, channel, p, sizeof(p));
}

/* Writes what the transport takes now. */
static void flush_outq(void)
{
	while (buf_len(&outq) > 0 && tp.fd >= 0 && tp.connected) {
		ssize_t n = write(tp.fd, outq.data + outq.start, buf_len(&outq));
		if (n > 0) {
			buf_consume(&outq, (size_t)n);
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		break; /* EAGAIN, or an error that the read side reports as a hang-up */
	}
}

/* ---- channels -------------------------------------------------------------------------- */

static struct channel *chan_find(uint32_t id)
{
	for (int i = 0; i < MAX_CHANNELS; i++)
		if (chans[i].used && chans[i].id == id)
			return &chans[i];
	return NULL;
}

static void close_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

static void chan_free(struct channel *c)
{
	close_fd(&c->in_fd);
	close_fd(&c->out_fd[0]);
	close_fd(&c->out_fd[1]);
	buf_free(&c->inq);
	memset(c, 0, sizeof(*c));
	c->in_fd = c->out_fd[0] = c->out_fd[1] = -1;
}

/* The process leads its own session and group (setsid), and the group may outlive it: while
 * any member lives the number stays pinned as a group id, so signalling the group after the
 * leader was reaped cannot hit a stranger. */
static void chan_kill(struct channel *c, int sig)
{
	if (c->pid <= 0)
		return;
	kill(-c->pid, sig);
	if (!c->reaped)
		kill(c->pid, sig);
}

static void send_forward_status(uint8_t type, uint32_t id, int err, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static void send_forward_status(uint8_t type, uint32_t id, int err, const char *fmt, ...)
{
	uint8_t p[4 + 300];
	bp_put32(p, (uint32_t)err);
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf((char *)p + 4, sizeof(p) - 4, fmt, ap);
	va_end(ap);
	if (n < 0)
		n = 0;
	if ((size_t)n > sizeof(p) - 5)
		n = (int)(sizeof(p) - 5);
	put_frame(type, 0, id, p, 4 + (size_t)n);
}

/* EXIT goes out only once the process is reaped and both output streams reached EOF; a
 * forward ends (FORWARD_CLOSED) once both directions did, or at its first socket error. */
static void chan_maybe_finish(struct channel *c)
{
	if (c->kind == CH_FORWARD) {
		if (!c->out_done[0] || !(c->in_fin_applied || c->in_dropped))
			return;
		if (c->sock_err)
			send_forward_status(BP_FORWARD_CLOSED, c->id, c->sock_err, "%s: %s", c->target,
					    strerror(c->sock_err));
		else
			send_forward_status(BP_FORWARD_CLOSED, c->id, 0, "%s", "");
		log_debug("channel %u: forward to %s closed (%d)", c->id, c->target, c->sock_err);
		chan_free(c);
		return;
	}
	if (!c->reaped || !c->out_done[0] || !c->out_done[1])
		return;
	uint8_t p[8] = {0};
	int st = c->wstatus;
	if (WIFSIGNALED(st)) {
		p[0] = BP_EXIT_SIGNALED;
		p[1] = WCOREDUMP(st) ? 1 : 0;
		bp_put32(p + 4, (uint32_t)WTERMSIG(st));
	} else {
		p[0] = BP_EXIT_EXITED;
		bp_put32(p + 4, (uint32_t)WEXITSTATUS(st));
	}
	put_frame(BP_EXIT, 0, c->id, p, sizeof(p));
	chan_free(c);
}

static void stdin_consumed(struct channel *c, size_t n)
{
	c->in_to_grant += (uint32_t)n;
	if (c->in_to_grant > 0 &&
	    (c->in_to_grant >= BP_INITIAL_WINDOW / 4 || buf_len(&c->inq) == 0)) {
		send_window(c->id, BP_STREAM_STDIN, c->in_to_grant);
		c->in_window += c->in_to_grant;
		c->in_to_grant = 0;
	}
}

/* The process will read no more: forget queued input but keep granting credit so the host
 * never blocks writing to a stdin nobody reads. */
static void stdin_drop(struct channel *c)
{
	size_t n = buf_len(&c->inq);
	buf_clear(&c->inq);
	close_fd(&c->in_fd);
	c->in_dropped = 1;
	stdin_consumed(c, n);
}

/* A forward's socket failed (reset, unreachable...): both directions are over. */
static void forward_fail(struct channel *c, int err)
{
	if (!c->sock_err)
		c->sock_err = err ? err : EIO;
	if (!c->out_done[0]) {
		close_fd(&c->out_fd[0]);
		c->out_done[0] = 1;
		put_frame(BP_STDOUT, BP_FLAG_FIN, c->id, NULL, 0);
	}
	stdin_drop(c);
	chan_maybe_finish(c);
}

static void stdin_apply_fin(struct channel *c)
{
	if (!c->in_fin || c->in_fin_applied || buf_len(&c->inq) > 0)
		return;
	c->in_fin_applied = 1;
	if (c->kind == CH_FORWARD) {
		/* half-close: the guest's peer reads EOF, and may still answer */
		if (c->in_fd >= 0)
			shutdown(c->in_fd, SHUT_WR);
		close_fd(&c->in_fd);
		chan_maybe_finish(c);
		return;
	}
	if (!c->tty || c->in_fd < 0) {
		close_fd(&c->in_fd);
		return;
	}
	/* A terminal has no EOF of its own: type VEOF, twice after a partial line (the first
	 * only submits the line), as a user would press ^D. */
	struct termios t;
	uint8_t eof[2] = {4, 4};
	size_t n = 1;
	if (tcgetattr(c->in_fd, &t) == 0) {
		eof[0] = eof[1] = t.c_cc[VEOF];
		if ((t.c_lflag & ICANON) && !c->in_line_start)
			n = 2;
	}
	buf_append(&c->inq, eof, n);
}

static void stdin_pump(struct channel *c)
{
	while (c->in_fd >= 0 && buf_len(&c->inq) > 0) {
		ssize_t n = write(c->in_fd, c->inq.data + c->inq.start, buf_len(&c->inq));
		if (n > 0) {
			c->in_line_start = c->inq.data[c->inq.start + (size_t)n - 1] == '\n';
			buf_consume(&c->inq, (size_t)n);
			stdin_consumed(c, (size_t)n);
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return;
		if (c->kind == CH_FORWARD) {
			forward_fail(c, n < 0 ? errno : EIO);
			return;
		}
		stdin_drop(c); /* EPIPE, EIO: nobody reads */
		return;
	}
	stdin_apply_fin(c);
}

static void output_pump(struct channel *c, int which)
{
	int fd = c->out_fd[which];
	if (fd < 0 || c->out_credit[which] == 0)
		return;
	size_t max = c->out_credit[which] < READ_CHUNK ? c->out_credit[which] : READ_CHUNK;
	uint8_t *p = frame_begin(&outq, max);
	if (!p)
		return;
	ssize_t n = read(fd, p, max);
	if (n < 0 && (errno == EINTR || errno == EAGAIN))
		return;
	uint8_t type = which == 0 ? BP_STDOUT : BP_STDERR;
	if (n > 0) {
		frame_commit(&outq, type, 0, c->id, (size_t)n);
		c->out_credit[which] -= (uint32_t)n;
		return;
	}
	if (n < 0 && c->kind == CH_FORWARD) {
		forward_fail(c, errno);
		return;
	}
	/* 0: EOF; EIO: the pty's last slave fd closed. */
	close_fd(&c->out_fd[which]);
	c->out_done[which] = 1;
	put_frame(type, BP_FLAG_FIN, c->id, NULL, 0);
	chan_maybe_finish(c);
}

/* ---- session --------------------------------------------------------------------------- */

/* Drops every trace of the previous host session. Its processes get SIGKILL at once: the host
 * that could read their output or stop them gently is gone. */
static void session_reset(void)
{
	for (int i = 0; i < MAX_CHANNELS; i++) {
		if (!chans[i].used)
			continue;
		chan_kill(&chans[i], SIGKILL);
		chan_free(&chans[i]);
	}
	buf_clear(&outq);
	session_active = 0;
	ports_watch_ms = 0;
}

static void reap_children(void)
{
	for (;;) {
		int st;
		pid_t pid = waitpid(-1, &st, WNOHANG);
		if (pid <= 0)
			return;
		for (int i = 0; i < MAX_CHANNELS; i++) {
			struct channel *c = &chans[i];
			if (!c->used || c->pid != pid)
				continue;
			c->reaped = 1;
			c->wstatus = st;
			stdin_drop(c);
			chan_maybe_finish(c);
			break;
		}
	}
}

static void put_record(uint8_t *p, size_t *off, size_t cap, char tag, const char *value)
{
	size_t n = strlen(value);
	if (*off + n + 2 > cap)
		return;
	p[(*off)++] = (uint8_t)tag;
	memcpy(p + *off, value, n + 1);
	*off += n + 1;
}

static void send_hello_ack(const uint8_t *nonce)
{
	uint8_t p[1024];
	memset(p, 0, 24);
	bp_put16(p, BP_PROTOCOL_VERSION);
	memcpy(p + 8, nonce, BP_NONCE_SIZE);
	size_t off = 24;
	/* Read once: it never changes under a running agent, and a procfs read is one more
	 * untranslated kernel path in the first handshake after a restore. */
	static char boot_id[64];
	static int have_boot_id;
	if (!have_boot_id)
		have_boot_id = read_small_file("/proc/sys/kernel/random/boot_id", boot_id,
					       sizeof(boot_id)) > 0;
	put_record(p, &off, sizeof(p), BP_REC_AGENT_VERSION, BANGER_VERSION);
	if (have_boot_id)
		put_record(p, &off, sizeof(p), BP_REC_BOOT_ID, boot_id);
	struct utsname u;
	if (uname(&u) == 0) {
		put_record(p, &off, sizeof(p), BP_REC_KERNEL, u.release);
		put_record(p, &off, sizeof(p), BP_REC_HOSTNAME, u.nodename);
	}
	static const char *const caps[] = {"exec",  "pty",     "signal", "resize", "shutdown",
					   "ports", "forward", "restore"};
	for (size_t i = 0; i < sizeof(caps) / sizeof(caps[0]); i++)
		put_record(p, &off, sizeof(p), BP_REC_CAPABILITY, caps[i]);
	put_frame(BP_HELLO_ACK, 0, 0, p, off);
}

static void handle_hello(const struct frame *f)
{
	if (f->length < 24) {
		send_error(0, BP_ERR_BAD_PAYLOAD, f->type, "HELLO payload too short");
		return;
	}
	const uint8_t *nonce = f->payload + 8;
	if (session_active && memcmp(nonce, session_nonce, BP_NONCE_SIZE) == 0) {
		/* the same host repeating itself (its retry crossed our answer) */
		send_hello_ack(nonce);
		return;
	}
	session_reset();
	/* The previous host may have left part of a frame in the stream: pad past it. */
	uint8_t *z = frame_begin(&outq, BP_PREAMBLE_SIZE);
	if (z) {
		memset(outq.data + outq.end, 0, BP_PREAMBLE_SIZE);
		outq.end += BP_PREAMBLE_SIZE;
	}
	memcpy(session_nonce, nonce, BP_NONCE_SIZE);
	session_active = 1;
	no_session_reported = 0;
	bad_frame_reported = 0;
	send_hello_ack(nonce);
	log_debug("new host session (protocol %u..%u)", bp_get16(f->payload),
		  bp_get16(f->payload + 2));
}

static void exec_failed(uint32_t id, int err, int stage, const char *msg)
{
	uint8_t p[8 + 600];
	bp_put32(p, (uint32_t)err);
	bp_put32(p + 4, (uint32_t)stage);
	size_t n = strlen(msg);
	if (n > sizeof(p) - 8)
		n = sizeof(p) - 8;
	memcpy(p + 8, msg, n);
	put_frame(BP_EXEC_FAILED, 0, id, p, 8 + n);
}

static int env_set(char **envp, int *count, char *entry)
{
	const char *eq = strchr(entry, '=');
	if (!eq || eq == entry)
		return -1;
	size_t klen = (size_t)(eq - entry) + 1;
	for (int i = 0; i < *count; i++) {
		if (strncmp(envp[i], entry, klen) == 0) {
			envp[i] = entry;
			return 0;
		}
	}
	envp[(*count)++] = entry;
	return 0;
}

static void handle_exec(const struct frame *f)
{
	uint32_t id = f->channel;
	if (id == 0) {
		send_error(0, BP_ERR_BAD_PAYLOAD, f->type, "EXEC on channel 0");
		return;
	}
	if (chan_find(id)) {
		send_error(id, BP_ERR_CHANNEL_IN_USE, f->type, "channel %u is in use", id);
		return;
	}
	struct channel *c = NULL;
	for (int i = 0; i < MAX_CHANNELS && !c; i++)
		if (!chans[i].used)
			c = &chans[i];
	if (!c) {
		exec_failed(id, EAGAIN, BP_STAGE_SETUP, "too many processes running at once (256)");
		return;
	}
	if (f->length < 8) {
		exec_failed(id, EINVAL, BP_STAGE_REQUEST, "malformed EXEC payload");
		return;
	}
	/* Copy the records: the payload lives in the input buffer. */
	size_t rlen = f->length - 8;
	char *rec = malloc(rlen + 1);
	char **argv = calloc(MAX_ARGS + 1, sizeof(char *));
	size_t env_cap = rlen / 2 + 8;
	char **envp = calloc(env_cap + 1, sizeof(char *));
	char *term = NULL;
	if (!rec || !argv || !envp) {
		exec_failed(id, ENOMEM, BP_STAGE_SETUP, "out of memory");
		goto out;
	}
	memcpy(rec, f->payload + 8, rlen);
	rec[rlen] = 0;
	uint32_t flags = bp_get32(f->payload);
	struct spawn_request req = {.argv = argv,
				    .envp = envp,
				    .cwd = NULL,
				    .tty = (flags & BP_EXEC_FLAG_TTY) != 0,
				    .rows = bp_get16(f->payload + 4),
				    .cols = bp_get16(f->payload + 6)};
	static const char *const defaults[] = {"PATH=" DEFAULT_PATH, "HOME=/root", "USER=root",
					       "LOGNAME=root", "LANG=C.UTF-8"};
	int envc = 0, argc = 0;
	for (size_t i = 0; i < sizeof(defaults) / sizeof(defaults[0]); i++)
		envp[envc++] = (char *)defaults[i];
	const char *term_value = "xterm-256color";
	char **envreq = calloc(env_cap + 1, sizeof(char *));
	int envreqc = 0;
	if (!envreq) {
		exec_failed(id, ENOMEM, BP_STAGE_SETUP, "out of memory");
		goto out;
	}
	for (size_t off = 0; off < rlen;) {
		char tag = rec[off];
		char *value = rec + off + 1;
		char *end = off + 1 < rlen ? memchr(value, 0, rlen - off - 1) : NULL;
		if (!end) {
			exec_failed(id, EINVAL, BP_STAGE_REQUEST, "malformed EXEC record");
			free(envreq);
			goto out;
		}
		off = (size_t)(end - rec) + 1;
		switch (tag) {
		case BP_REC_ARG:
			if (argc >= MAX_ARGS) {
				exec_failed(id, E2BIG, BP_STAGE_REQUEST, "too many arguments");
				free(envreq);
				goto out;
			}
			argv[argc++] = value;
			break;
		case BP_REC_ENV:
			envreq[envreqc++] = value;
			break;
		case BP_REC_CWD:
			req.cwd = value;
			break;
		case BP_REC_TERM:
			term_value = value;
			break;
		default:
			break; /* unknown records are ignored: room to grow */
		}
	}
	if (argc == 0 || argv[0][0] == 0) {
		exec_failed(id, EINVAL, BP_STAGE_REQUEST, "EXEC needs a non-empty argv[0]");
		free(envreq);
		goto out;
	}
	if (req.cwd && req.cwd[0] != '/') {
		exec_failed(id, EINVAL, BP_STAGE_REQUEST, "cwd must be an absolute path");
		free(envreq);
		goto out;
	}
	if (req.tty) {
		term = malloc(strlen(term_value) + 6);
		if (term) {
			strcpy(term, "TERM=");
			strcat(term, term_value);
			env_set(envp, &envc, term);
		}
	}
	for (int i = 0; i < envreqc; i++) {
		if (env_set(envp, &envc, envreq[i]) < 0) {
			exec_failed(id, EINVAL, BP_STAGE_REQUEST,
				    "environment entries must look like NAME=value");
			free(envreq);
			goto out;
		}
	}
	free(envreq);

	struct spawn_result r;
	if (spawn_process(&req, &r) < 0) {
		exec_failed(id, r.err, r.stage, r.message);
		goto out;
	}
	memset(c, 0, sizeof(*c));
	c->used = 1;
	c->id = id;
	c->pid = r.pid;
	c->tty = req.tty;
	c->in_fd = r.stdin_fd;
	c->in_window = BP_INITIAL_WINDOW;
	c->in_line_start = 1;
	c->out_fd[0] = r.stdout_fd;
	c->out_fd[1] = r.stderr_fd;
	c->out_credit[0] = c->out_credit[1] = BP_INITIAL_WINDOW;
	uint8_t p[4];
	bp_put32(p, (uint32_t)r.pid);
	put_frame(BP_EXEC_STARTED, 0, id, p, sizeof(p));
	if (c->out_fd[1] < 0) {
		/* tty mode: one merged stream, stderr ends at once */
		c->out_done[1] = 1;
		put_frame(BP_STDERR, BP_FLAG_FIN, id, NULL, 0);
	}
	log_debug("channel %u: started pid %d (%s)", id, (int)r.pid, argv[0]);
out:
	/* argv/env strings point into rec, which the child copied at fork */
	free(rec);
	free(argv);
	free(envp);
	free(term);
}

/* ---- forward ----------------------------------------------------------------------------- */

static struct channel *chan_alloc(void)
{
	for (int i = 0; i < MAX_CHANNELS; i++)
		if (!chans[i].used)
			return &chans[i];
	return NULL;
}

/* The socket is connected: FORWARD_OPENED, then bytes flow with fresh windows. */
static void forward_opened(struct channel *c)
{
	c->connecting = 0;
	c->out_fd[0] = fcntl(c->in_fd, F_DUPFD_CLOEXEC, 3);
	if (c->out_fd[0] < 0) {
		int err = errno;
		send_forward_status(BP_FORWARD_FAILED, c->id, err, "%s: %s", c->target, strerror(err));
		chan_free(c);
		return;
	}
	int one = 1;
	setsockopt(c->in_fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	c->in_window = BP_INITIAL_WINDOW;
	c->out_credit[0] = BP_INITIAL_WINDOW;
	put_frame(BP_FORWARD_OPENED, 0, c->id, NULL, 0);
	log_debug("channel %u: connected to %s", c->id, c->target);
}

static void forward_connect_failed(struct channel *c, int err)
{
	send_forward_status(BP_FORWARD_FAILED, c->id, err, "connect to %s: %s", c->target,
			    strerror(err));
	log_debug("channel %u: connect to %s failed: %s", c->id, c->target, strerror(err));
	chan_free(c);
}

/* poll() said the pending connect finished, one way or the other. */
static void forward_connect_done(struct channel *c)
{
	int err = 0;
	socklen_t len = sizeof(err);
	if (getsockopt(c->in_fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
		err = errno;
	if (err)
		forward_connect_failed(c, err);
	else
		forward_opened(c);
}

static void handle_forward_open(const struct frame *f)
{
	uint32_t id = f->channel;
	if (id == 0) {
		send_error(0, BP_ERR_BAD_PAYLOAD, f->type, "FORWARD_OPEN on channel 0");
		return;
	}
	if (chan_find(id)) {
		send_error(id, BP_ERR_CHANNEL_IN_USE, f->type, "channel %u is in use", id);
		return;
	}
	if (f->length < 4) {
		send_forward_status(BP_FORWARD_FAILED, id, EINVAL, "malformed FORWARD_OPEN payload");
		return;
	}
	uint16_t port = bp_get16(f->payload);
	char addr[64] = "127.0.0.1";
	for (size_t off = 4; off < f->length;) {
		uint8_t tag = f->payload[off];
		const uint8_t *value = f->payload + off + 1;
		const uint8_t *end =
			off + 1 < f->length ? memchr(value, 0, f->length - off - 1) : NULL;
		if (!end) {
			send_forward_status(BP_FORWARD_FAILED, id, EINVAL, "malformed FORWARD_OPEN record");
			return;
		}
		size_t n = (size_t)(end - value);
		if (tag == BP_REC_ADDRESS) {
			if (n == 0 || n >= sizeof(addr)) {
				send_forward_status(BP_FORWARD_FAILED, id, EINVAL, "bad address record");
				return;
			}
			memcpy(addr, value, n);
			addr[n] = 0;
		}
		off = (size_t)(end - f->payload) + 1;
	}
	if (port == 0) {
		send_forward_status(BP_FORWARD_FAILED, id, EINVAL, "port 0 is not a port");
		return;
	}
	struct sockaddr_storage ss;
	memset(&ss, 0, sizeof(ss));
	socklen_t sslen;
	int family;
	struct sockaddr_in *in4 = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;
	if (inet_pton(AF_INET, addr, &in4->sin_addr) == 1) {
		family = AF_INET;
		in4->sin_family = AF_INET;
		in4->sin_port = htons(port);
		sslen = sizeof(*in4);
	} else if (inet_pton(AF_INET6, addr, &in6->sin6_addr) == 1) {
		family = AF_INET6;
		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons(port);
		sslen = sizeof(*in6);
	} else {
		send_forward_status(BP_FORWARD_FAILED, id, EINVAL,
				    "%s is not a numeric IPv4 or IPv6 address", addr);
		return;
	}
	struct channel *c = chan_alloc();
	if (!c) {
		send_forward_status(BP_FORWARD_FAILED, id, EAGAIN,
				    "too many channels open at once (%d)", MAX_CHANNELS);
		return;
	}
	int fd = socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		int err = errno;
		send_forward_status(BP_FORWARD_FAILED, id, err, "socket: %s", strerror(err));
		return;
	}
	memset(c, 0, sizeof(*c));
	c->used = 1;
	c->kind = CH_FORWARD;
	c->id = id;
	c->in_fd = fd;
	c->out_fd[0] = c->out_fd[1] = -1;
	c->out_done[1] = 1; /* no second output stream */
	c->in_line_start = 1;
	snprintf(c->target, sizeof(c->target), family == AF_INET6 ? "[%s]:%u" : "%s:%u", addr,
		 (unsigned)port);
	int r;
	do
		r = connect(fd, (struct sockaddr *)&ss, sslen);
	while (r < 0 && errno == EINTR);
	if (r == 0) {
		forward_opened(c);
	} else if (errno == EINPROGRESS) {
		c->connecting = 1;
		c->connect_deadline = now_ms() + CONNECT_TIMEOUT_MS;
	} else {
		forward_connect_failed(c, errno);
	}
}

/* ---- ports -------------------------------------------------------------------------------- */

static void send_ports(struct port_list *list, uint32_t request_id)
{
	ports_resolve(list, &ports_last);
	size_t n = ports_encode(list, request_id, ports_payload);
	put_frame(BP_PORTS, 0, 0, ports_payload, n);
}

static void handle_ports_list(const struct frame *f)
{
	if (f->length < 4) {
		send_error(0, BP_ERR_BAD_PAYLOAD, f->type, "PORTS_LIST payload too short");
		return;
	}
	ports_scan(&ports_now);
	send_ports(&ports_now, bp_get32(f->payload));
}

/* Polls now and then, and reports only changes: the first report of a watch always goes. */
static void ports_poll(int force)
{
	force |= ports_report_next;
	ports_report_next = 0;
	ports_scan(&ports_now);
	if (!force && ports_equal(&ports_now, &ports_last))
		return;
	send_ports(&ports_now, 0);
	memcpy(&ports_last, &ports_now, sizeof(ports_last));
}

static void handle_ports_watch(const struct frame *f)
{
	if (f->length < 4) {
		send_error(0, BP_ERR_BAD_PAYLOAD, f->type, "PORTS_WATCH payload too short");
		return;
	}
	uint32_t ms = bp_get32(f->payload);
	if (ms == 0) {
		ports_watch_ms = 0;
		return;
	}
	if (ms < BP_PORTS_WATCH_MIN_MS)
		ms = BP_PORTS_WATCH_MIN_MS;
	if (ms > BP_PORTS_WATCH_MAX_MS)
		ms = BP_PORTS_WATCH_MAX_MS;
	ports_watch_ms = ms;
	/* The first report waits a moment: a host that starts watching as a VM starts sends its
	 * first command right after, and that command goes first (the scan of /proc is not
	 * free under emulation). The report of a new watch always goes, changed or not. */
	ports_report_next = 1;
	ports_next_at = now_ms() + (ms < PORTS_FIRST_REPORT_MS ? ms : PORTS_FIRST_REPORT_MS);
}

static void handle_stdin(struct channel *c, const struct frame *f)
{
	if (c->connecting) {
		/* no window exists before FORWARD_OPENED, not even for an empty FIN */
		send_error(c->id, BP_ERR_FLOW_CONTROL, f->type, "STDIN before FORWARD_OPENED");
		return;
	}
	if (f->length > c->in_window) {
		send_error(c->id, BP_ERR_FLOW_CONTROL, f->type,
			   "STDIN of %u bytes exceeds the window of %u", f->length, c->in_window);
		chan_kill(c, SIGKILL);
		return;
	}
	c->in_window -= f->length;
	if (c->in_fin || c->in_dropped || c->in_fd < 0) {
		stdin_consumed(c, f->length);
	} else if (f->length > 0) {
		if (buf_append(&c->inq, f->payload, f->length) < 0) {
			stdin_consumed(c, f->length);
		}
	}
	if (f->flags & BP_FLAG_FIN)
		c->in_fin = 1;
	stdin_pump(c);
}

static void handle_window(struct channel *c, const struct frame *f)
{
	if (f->length < 8) {
		send_error(c->id, BP_ERR_BAD_PAYLOAD, f->type, "WINDOW payload too short");
		return;
	}
	uint8_t stream = f->payload[0];
	uint32_t inc = bp_get32(f->payload + 4);
	if (stream != BP_STREAM_STDOUT && stream != BP_STREAM_STDERR) {
		send_error(c->id, BP_ERR_BAD_PAYLOAD, f->type, "WINDOW for stream %u", stream);
		return;
	}
	uint32_t *credit = &c->out_credit[stream - 1];
	if ((uint64_t)*credit + inc > BP_MAX_WINDOW) {
		send_error(c->id, BP_ERR_FLOW_CONTROL, f->type, "window overflow");
		return;
	}
	*credit += inc;
}

static void handle_close(struct channel *c)
{
	if (c->kind == CH_FORWARD) {
		/* The host gave up on the connection: reset it, as a killed client would. */
		struct linger lg = {.l_onoff = 1, .l_linger = 0};
		if (c->in_fd >= 0)
			setsockopt(c->in_fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
		else if (c->out_fd[0] >= 0)
			setsockopt(c->out_fd[0], SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
	}
	c->host_closed = 1;
	chan_kill(c, SIGKILL);
	for (int i = 0; i < 2; i++) {
		close_fd(&c->out_fd[i]);
		c->out_done[i] = 1;
	}
	buf_clear(&c->inq);
	close_fd(&c->in_fd);
	c->in_dropped = 1;
	chan_maybe_finish(c);
}

/* Blocks up to ms to push the output queue out (used before power-off and exit). */
static void drain_outq(unsigned ms)
{
	uint64_t end = now_ms() + ms;
	while (buf_len(&outq) > 0 && tp.fd >= 0 && tp.connected && now_ms() < end) {
		flush_outq();
		if (buf_len(&outq) == 0)
			break;
		struct pollfd p = {.fd = tp.fd, .events = POLLOUT};
		poll(&p, 1, 20);
	}
}

/* Waits up to ms for every child to be reaped; 1 when none is left. */
static int reap_all(unsigned ms)
{
	uint64_t end = now_ms() + ms;
	for (;;) {
		pid_t r = waitpid(-1, NULL, WNOHANG);
		if (r < 0 && errno == ECHILD)
			return 1;
		if (r > 0)
			continue;
		if (now_ms() >= end)
			return 0;
		sleep_ms(5);
	}
}

/* SIGTERM to every process group we started, a short grace, then SIGKILL: nothing we
 * started outlives us (under banger-init, PID 1 sends the same to everyone anyway). */
static void cleanup_and_exit(int code)
{
	for (int i = 0; i < MAX_CHANNELS; i++)
		if (chans[i].used)
			chan_kill(&chans[i], SIGTERM);
	if (!reap_all(500)) {
		session_reset();
		reap_all(1000);
	}
	exit(code);
}

static void notify_init(int kind)
{
	char comm[64] = "";
	read_small_file("/proc/1/comm", comm, sizeof(comm));
	int sig = 0;
	if (strcmp(comm, "banger-init") == 0)
		sig = kind == BP_SHUTDOWN_REBOOT ? SIGUSR2 : SIGUSR1;
	else if (strcmp(comm, "systemd") == 0)
		sig = kind == BP_SHUTDOWN_REBOOT ? SIGRTMIN + 5 : SIGRTMIN + 4;
	if (sig && kill(1, sig) == 0) {
		log_debug("asked PID 1 (%s) to %s", comm,
			  kind == BP_SHUTDOWN_REBOOT ? "reboot" : "power off");
		shutdown_fallback_at = now_ms() + SHUTDOWN_FALLBACK_MS;
		shutdown_kind = kind;
		return;
	}
	log_msg("PID 1 is '%s': powering off directly", comm);
	sync();
	reboot(kind == BP_SHUTDOWN_REBOOT ? RB_AUTOBOOT : RB_POWER_OFF);
	log_msg("reboot() failed: %s", strerror(errno));
}

static void handle_shutdown(const struct frame *f)
{
	if (f->length < 1 || (f->payload[0] != BP_SHUTDOWN_POWEROFF &&
			      f->payload[0] != BP_SHUTDOWN_REBOOT)) {
		send_error(0, BP_ERR_BAD_PAYLOAD, f->type, "SHUTDOWN kind must be 1 or 2");
		return;
	}
	int kind = f->payload[0];
	sync();
	uint8_t k = (uint8_t)kind;
	put_frame(BP_SHUTDOWN_ACK, 0, 0, &k, 1);
	drain_outq(1000);
	if (tp.kind == TRANSPORT_UNIX) {
		/* Test transport on a developer's machine: never touch the real PID 1. */
		log_debug("shutdown requested over the unix test transport: exiting");
		cleanup_and_exit(0);
	}
	notify_init(kind);
}

/* ---- restore ----------------------------------------------------------------------------- */

/* RESTORE: the identity of a guest restored from a saved state (see restore.c). Answered by
 * RESTORE_DONE with what was applied and, per failure, a message. */
static void handle_restore(const struct frame *f)
{
	if (f->length < BP_RESTORE_HEADER) {
		send_error(0, BP_ERR_BAD_PAYLOAD, f->type, "RESTORE payload too short");
		return;
	}
	const uint8_t *p = f->payload;
	struct restore_request req;
	memset(&req, 0, sizeof(req));
	uint32_t id = bp_get32(p);
	req.flags = bp_get32(p + 4);
	uint64_t t = (uint64_t)bp_get32(p + 8) | ((uint64_t)bp_get32(p + 12) << 32);
	req.time_ns = (int64_t)t;
	req.entropy_len = bp_get16(p + 16);
	if (req.entropy_len > BP_RESTORE_MAX_ENTROPY ||
	    BP_RESTORE_HEADER + req.entropy_len > f->length) {
		send_error(0, BP_ERR_BAD_PAYLOAD, f->type, "RESTORE entropy length %zu is too long",
			   req.entropy_len);
		return;
	}
	req.entropy = p + BP_RESTORE_HEADER;
	/* Records point into the input buffer, which stays put while this frame is handled. */
	size_t off = BP_RESTORE_HEADER + req.entropy_len;
	while (off < f->length) {
		char tag = (char)p[off];
		const char *value = (const char *)p + off + 1;
		const uint8_t *end =
			off + 1 < f->length ? memchr(p + off + 1, 0, f->length - off - 1) : NULL;
		if (!end) {
			send_error(0, BP_ERR_BAD_PAYLOAD, f->type, "RESTORE record without its NUL");
			return;
		}
		off = (size_t)(end - p) + 1;
		switch (tag) {
		case BP_REC_R_HOSTNAME:
			req.hostname = value;
			break;
		case BP_REC_R_IFACE:
			req.iface = value;
			break;
		case BP_REC_R_MAC:
			req.mac = value;
			break;
		case BP_REC_R_ADDRESS:
			req.address = value;
			break;
		case BP_REC_R_GATEWAY:
			req.gateway = value;
			break;
		case BP_REC_R_DNS:
			if (req.ndns < RESTORE_MAX_DNS)
				req.dns[req.ndns++] = value;
			break;
		case BP_REC_R_MACHINE_ID:
			req.machine_id = value;
			break;
		case BP_REC_R_SSH_PRIVATE:
			req.ssh_private = value;
			break;
		case BP_REC_R_SSH_PUBLIC:
			req.ssh_public = value;
			break;
		default:
			break; /* unknown records are ignored: room to grow */
		}
	}
	struct restore_options opt = {.root = restore_root,
				      .test_transport = tp.kind == TRANSPORT_UNIX};
	static struct restore_result res;
	restore_apply(&req, &opt, &res);
	static uint8_t out[16 + RESTORE_MESSAGES + 64];
	bp_put32(out, id);
	bp_put32(out + 4, res.applied);
	bp_put32(out + 8, res.failed);
	bp_put32(out + 12, 0);
	size_t n = 16;
	for (size_t i = 0; i < res.messages_len;) {
		size_t len = strlen(res.messages + i);
		if (n + len + 2 > sizeof(out))
			break;
		out[n++] = BP_REC_R_FAILURE;
		memcpy(out + n, res.messages + i, len + 1);
		n += len + 1;
		i += len + 1;
	}
	put_frame(BP_RESTORE_DONE, 0, 0, out, n);
	log_debug("restore: applied 0x%x, failed 0x%x", res.applied, res.failed);
	/* On disk soon, but not now: the user's first command should not share the vCPU with
	 * the flush (the loop calls sync() when the time comes). */
	if (res.wrote_files && tp.kind != TRANSPORT_UNIX)
		restore_sync_at = now_ms() + RESTORE_SYNC_DELAY_MS;
}

/* PREPARE_SAVE: the host is about to save this guest. Blocks the loop (up to the timeout,
 * 60 s at most): nothing else runs while a guest is being made into a template. */
static void handle_prepare_save(const struct frame *f)
{
	if (f->length < 8) {
		send_error(0, BP_ERR_BAD_PAYLOAD, f->type, "PREPARE_SAVE payload too short");
		return;
	}
	uint32_t id = bp_get32(f->payload);
	uint32_t ms = bp_get32(f->payload + 4);
	if (ms > 60000)
		ms = 60000;
	uint8_t out[8];
	bp_put32(out, id);
	bp_put32(out + 4, tp.kind == TRANSPORT_UNIX ? 0 : prepare_save(ms));
	put_frame(BP_SAVE_READY, 0, 0, out, sizeof(out));
}

static void handle_frame(const struct frame *f)
{
	if (f->type == BP_HELLO) {
		handle_hello(f);
		return;
	}
	if (f->type == BP_PONG || f->type == BP_ERROR) {
		if (f->type == BP_ERROR && f->length >= 8)
			log_debug("host reported error %u on channel %u: %.*s",
				  bp_get32(f->payload), f->channel, (int)(f->length - 8),
				  (const char *)f->payload + 8);
		return;
	}
	if (!session_active) {
		/* PING too: a PONG would tell a host whose agent restarted that all is well */
		if (!no_session_reported)
			send_error(0, BP_ERR_NO_SESSION, f->type, "no session: send HELLO first");
		no_session_reported = 1;
		return;
	}
	switch (f->type) {
	case BP_PING:
		put_frame(BP_PONG, 0, f->channel, f->payload, f->length);
		return;
	case BP_SHUTDOWN:
		handle_shutdown(f);
		return;
	case BP_EXEC:
		handle_exec(f);
		return;
	case BP_FORWARD_OPEN:
		handle_forward_open(f);
		return;
	case BP_PORTS_LIST:
		handle_ports_list(f);
		return;
	case BP_PORTS_WATCH:
		handle_ports_watch(f);
		return;
	case BP_RESTORE:
		handle_restore(f);
		return;
	case BP_PREPARE_SAVE:
		handle_prepare_save(f);
		return;
	case BP_STDIN:
	case BP_WINDOW:
	case BP_CLOSE:
	case BP_SIGNAL:
	case BP_RESIZE:
		break;
	default:
		send_error(f->channel, BP_ERR_UNKNOWN_TYPE, f->type, "unknown frame type 0x%02x",
			   f->type);
		return;
	}
	struct channel *c = chan_find(f->channel);
	if (!c)
		return; /* late frames for a channel that already ended */
	if (c->host_closed)
		return;
	switch (f->type) {
	case BP_STDIN:
		handle_stdin(c, f);
		break;
	case BP_WINDOW:
		handle_window(c, f);
		break;
	case BP_CLOSE:
		handle_close(c);
		break;
	case BP_SIGNAL: {
		uint32_t sig = f->length >= 4 ? bp_get32(f->payload) : 0;
		if (sig == 0 || sig >= (uint32_t)NSIG) {
			send_error(c->id, BP_ERR_BAD_PAYLOAD, f->type, "bad signal number %u", sig);
			break;
		}
		chan_kill(c, (int)sig);
		break;
	}
	case BP_RESIZE:
		if (f->length >= 4 && c->tty && c->in_fd >= 0) {
			struct winsize ws = {.ws_row = bp_get16(f->payload),
					     .ws_col = bp_get16(f->payload + 2)};
			ioctl(c->in_fd, TIOCSWINSZ, &ws);
		}
		break;
	default:
		break;
	}
}

static void read_transport(void)
{
	for (int rounds = 0; rounds < 4; rounds++) {
		if (buf_reserve(&inbuf, READ_CHUNK) < 0)
			return;
		ssize_t n = read(tp.fd, inbuf.data + inbuf.end, READ_CHUNK);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return;
		if (n <= 0) {
			/* The host went away. A partial frame of theirs is worthless now. */
			buf_clear(&inbuf);
			if (transport_lost(&tp)) {
				log_debug("transport closed: exiting");
				cleanup_and_exit(0);
			}
			return;
		}
		inbuf.end += (size_t)n;
		struct frame f;
		size_t skipped = 0;
		while (frame_next(&inbuf, &f, &skipped))
			handle_frame(&f);
		if (skipped > 0 && !bad_frame_reported && session_active) {
			send_error(0, BP_ERR_BAD_FRAME, 0, "skipped %zu bytes that were not frames",
				   skipped);
			bad_frame_reported = 1;
		}
		if ((size_t)n < READ_CHUNK)
			return;
	}
}

/* ---- main loop ------------------------------------------------------------------------- */

static void ensure_std_fds(void)
{
	for (int fd = 0; fd < 3; fd++) {
		if (fcntl(fd, F_GETFD) >= 0)
			continue;
		int n = open("/dev/null", O_RDWR);
		if (n >= 0 && n != fd) {
			dup2(n, fd);
			close(n);
		}
	}
}

static void usage(void)
{
	fprintf(stderr,
		"usage: banger-agent [--transport auto|virtio|vsock] [--port-name NAME]\n"
		"                    [--vsock-port N] [--connect-unix PATH [--restore-root DIR]]\n"
		"                    [--verbose] [--version]\n");
}

enum role { R_TRANSPORT, R_LISTEN, R_SIGNAL, R_STDIN, R_STDOUT, R_STDERR, R_CONNECT };

int main(int argc, char **argv)
{
	log_prefix = "banger-agent";
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		const char *next = i + 1 < argc ? argv[i + 1] : NULL;
		if (strcmp(a, "--version") == 0) {
			printf("banger-agent %s (protocol %d)\n", BANGER_VERSION, BP_PROTOCOL_VERSION);
			return 0;
		} else if (strcmp(a, "--verbose") == 0) {
			log_verbose = 1;
		} else if (strcmp(a, "--connect-unix") == 0 && next) {
			tp.kind = TRANSPORT_UNIX;
			tp.unix_path = next;
			i++;
		} else if (strcmp(a, "--restore-root") == 0 && next) {
			restore_root = next;
			i++;
		} else if (strcmp(a, "--port-name") == 0 && next) {
			tp.port_name = next;
			i++;
		} else if (strcmp(a, "--vsock-port") == 0 && next) {
			tp.vsock_port = (unsigned)strtoul(next, NULL, 10);
			i++;
		} else if (strcmp(a, "--transport") == 0 && next) {
			if (strcmp(next, "virtio") == 0)
				tp.kind = TRANSPORT_VIRTIO;
			else if (strcmp(next, "vsock") == 0)
				tp.kind = TRANSPORT_VSOCK;
			else if (strcmp(next, "auto") == 0)
				tp.kind = TRANSPORT_AUTO;
			else {
				usage();
				return 2;
			}
			i++;
		} else {
			usage();
			return 2;
		}
	}
	if (restore_root[0] && tp.kind != TRANSPORT_UNIX) {
		/* a guest's identity files live in its real root */
		fprintf(stderr, "banger-agent: --restore-root goes with --connect-unix only\n");
		return 2;
	}
	ensure_std_fds();
	signal(SIGPIPE, SIG_IGN);
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGCHLD);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	sigprocmask(SIG_BLOCK, &set, NULL);
	sigfd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
	if (sigfd < 0) {
		log_msg("signalfd: %s", strerror(errno));
		return 1;
	}
	for (int i = 0; i < MAX_CHANNELS; i++)
		chan_free(&chans[i]);
	if (transport_open(&tp) < 0)
		return 1;
	/* Tell a host that may still think it has a session with our predecessor (killed and
	 * restarted by init): padding past whatever it left half-written, then NO_SESSION. */
	uint8_t *z = frame_begin(&outq, BP_PREAMBLE_SIZE);
	if (z) {
		memset(outq.data + outq.end, 0, BP_PREAMBLE_SIZE);
		outq.end += BP_PREAMBLE_SIZE;
	}
	send_error(0, BP_ERR_NO_SESSION, 0, "banger-agent %s started (pid %d)", BANGER_VERSION,
		   (int)getpid());
	no_session_reported = 1;
	if (tp.kind == TRANSPORT_VIRTIO)
		transport_probe(&tp);

	static struct pollfd pfd[3 + 3 * MAX_CHANNELS];
	static struct {
		int role;
		struct channel *c;
	} what[3 + 3 * MAX_CHANNELS];
	for (;;) {
		int n = 0;
		int timeout = -1;
		pfd[n] = (struct pollfd){.fd = sigfd, .events = POLLIN};
		what[n++].role = R_SIGNAL;
		if (tp.listen_fd >= 0) {
			pfd[n] = (struct pollfd){.fd = tp.listen_fd, .events = POLLIN};
			what[n++].role = R_LISTEN;
		}
		if (tp.fd >= 0 && tp.connected) {
			short ev = buf_len(&outq) > 0 ? POLLOUT : 0;
			if (buf_len(&outq) < OUTQ_HARD)
				ev |= POLLIN;
			pfd[n] = (struct pollfd){.fd = tp.fd, .events = ev};
			what[n++].role = R_TRANSPORT;
		} else if (tp.kind == TRANSPORT_VIRTIO) {
			/* A disconnected port polls as POLLHUP at once: check back shortly instead. */
			timeout = DISCONNECTED_POLL_MS;
		}
		int out_room = buf_len(&outq) < OUTQ_SOFT;
		uint64_t now = now_ms();
		for (int i = 0; i < MAX_CHANNELS; i++) {
			struct channel *c = &chans[i];
			if (!c->used)
				continue;
			if (c->connecting) {
				if (now >= c->connect_deadline) {
					forward_connect_failed(c, ETIMEDOUT);
					continue;
				}
				int left = (int)(c->connect_deadline - now);
				if (timeout < 0 || left < timeout)
					timeout = left;
				pfd[n] = (struct pollfd){.fd = c->in_fd, .events = POLLOUT};
				what[n].role = R_CONNECT;
				what[n++].c = c;
				continue;
			}
			for (int s = 0; s < 2; s++) {
				if (c->out_fd[s] >= 0 && c->out_credit[s] > 0 && out_room) {
					pfd[n] = (struct pollfd){.fd = c->out_fd[s], .events = POLLIN};
					what[n].role = s == 0 ? R_STDOUT : R_STDERR;
					what[n++].c = c;
				}
			}
			if (c->in_fd >= 0 && buf_len(&c->inq) > 0) {
				pfd[n] = (struct pollfd){.fd = c->in_fd, .events = POLLOUT};
				what[n].role = R_STDIN;
				what[n++].c = c;
			}
		}
		if (ports_watch_ms && session_active) {
			int left = now >= ports_next_at ? 0 : (int)(ports_next_at - now);
			if (timeout < 0 || left < timeout)
				timeout = left;
		}
		if (restore_sync_at) {
			int left = now >= restore_sync_at ? 0 : (int)(restore_sync_at - now);
			if (timeout < 0 || left < timeout)
				timeout = left;
		}
		if (shutdown_fallback_at) {
			int left = now >= shutdown_fallback_at ? 0 : (int)(shutdown_fallback_at - now);
			if (timeout < 0 || left < timeout)
				timeout = left;
		}
		int r = poll(pfd, (nfds_t)n, timeout);
		if (r < 0 && errno != EINTR) {
			log_msg("poll: %s", strerror(errno));
			sleep_ms(10);
			continue;
		}
		if (restore_sync_at && now_ms() >= restore_sync_at) {
			restore_sync_at = 0;
			sync();
		}
		if (shutdown_fallback_at && now_ms() >= shutdown_fallback_at) {
			log_msg("PID 1 did not shut down: calling reboot() directly");
			shutdown_fallback_at = 0;
			sync();
			reboot(shutdown_kind == BP_SHUTDOWN_REBOOT ? RB_AUTOBOOT : RB_POWER_OFF);
		}
		if (tp.kind == TRANSPORT_VIRTIO && !tp.connected)
			transport_probe(&tp);
		if (ports_watch_ms && session_active && now_ms() >= ports_next_at) {
			/* no report piles up while nobody reads: skip a round if output is backed up */
			if (buf_len(&outq) < OUTQ_SOFT)
				ports_poll(0);
			ports_next_at = now_ms() + ports_watch_ms;
		}
		for (int i = 0; i < n && r > 0; i++) {
			short rev = pfd[i].revents;
			if (!rev)
				continue;
			struct channel *c = what[i].c;
			switch (what[i].role) {
			case R_SIGNAL: {
				struct signalfd_siginfo si;
				while (read(sigfd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
					if (si.ssi_signo == SIGCHLD)
						reap_children();
					else {
						log_debug("signal %u: exiting", si.ssi_signo);
						cleanup_and_exit(0);
					}
				}
				break;
			}
			case R_LISTEN:
				if (transport_accept(&tp))
					buf_clear(&inbuf);
				break;
			case R_TRANSPORT:
				if (rev & (POLLIN | POLLHUP | POLLERR))
					read_transport();
				if (tp.connected && (rev & POLLOUT))
					flush_outq();
				break;
			case R_STDOUT:
			case R_STDERR:
				/* the channel may have ended earlier in this round */
				if (c->used && c->out_fd[what[i].role == R_STDERR] == pfd[i].fd)
					output_pump(c, what[i].role == R_STDERR);
				break;
			case R_STDIN:
				if (c->used && c->in_fd == pfd[i].fd)
					stdin_pump(c);
				break;
			case R_CONNECT:
				if (c->used && c->connecting && c->in_fd == pfd[i].fd)
					forward_connect_done(c);
				break;
			}
		}
		flush_outq();
	}
}
