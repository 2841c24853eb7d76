#include "spawn.h"

#include <errno.h>
#include <fcntl.h>
#include <pty.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "proto.h"
#include "util.h"

struct child_failure {
	int stage;
	int err;
};

static const char *env_get(char **envp, const char *key)
{
	size_t n = strlen(key);
	for (; *envp; envp++)
		if (strncmp(*envp, key, n) == 0 && (*envp)[n] == '=')
			return *envp + n + 1;
	return NULL;
}

static void child_fail(int fd, int stage, int err)
{
	struct child_failure f = {stage, err};
	ssize_t w = write(fd, &f, sizeof(f));
	(void)w;
	_exit(127);
}

/* What execvp does for a file without a #! line: run it with /bin/sh. */
static void exec_with_sh(const char *file, char **argv, char **envp)
{
	int argc = 0;
	while (argv[argc])
		argc++;
	char **sh = calloc((size_t)argc + 2, sizeof(char *));
	if (!sh)
		return;
	sh[0] = "sh";
	sh[1] = (char *)file;
	for (int i = 1; i < argc; i++)
		sh[i + 1] = argv[i];
	execve("/bin/sh", sh, envp);
	free(sh);
}

/* PATH search with the request's PATH (musl's execvpe would use the agent's own). */
static int exec_search(char **argv, char **envp)
{
	const char *file = argv[0];
	if (strchr(file, '/')) {
		execve(file, argv, envp);
		int err = errno;
		if (err == ENOEXEC)
			exec_with_sh(file, argv, envp);
		return err;
	}
	const char *path = env_get(envp, "PATH");
	if (!path)
		path = DEFAULT_PATH;
	int seen_eacces = 0;
	size_t flen = strlen(file);
	for (const char *p = path;; p++) {
		const char *colon = strchr(p, ':');
		size_t dlen = colon ? (size_t)(colon - p) : strlen(p);
		char full[4096];
		if (dlen + flen + 2 <= sizeof(full)) {
			if (dlen == 0) {
				memcpy(full, file, flen + 1);
			} else {
				memcpy(full, p, dlen);
				full[dlen] = '/';
				memcpy(full + dlen + 1, file, flen + 1);
			}
			execve(full, argv, envp);
			switch (errno) {
			case EACCES:
				seen_eacces = 1;
				break;
			case ENOENT:
			case ENOTDIR:
			case ENAMETOOLONG:
			case ELOOP:
			case ESTALE:
			case ENODEV:
			case ETIMEDOUT:
				break;
			case ENOEXEC:
				exec_with_sh(full, argv, envp);
				return ENOEXEC;
			default:
				return errno;
			}
		}
		if (!colon)
			break;
		p = colon;
	}
	return seen_eacces ? EACCES : ENOENT;
}

static void child_main(const struct spawn_request *req, int errfd, int fd0, int fd1, int fd2,
		       int slave)
{
	sigset_t none;
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	/* ignored dispositions survive execve: give the program the defaults (SIGPIPE!) */
	for (int s = 1; s < NSIG; s++)
		signal(s, SIG_DFL);
	/* If the agent dies, nobody can report on this process or stop it: it goes too (the
	 * same fate as the processes of a session a new HELLO replaces). */
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() == 1)
		child_fail(errfd, BP_STAGE_SETUP, ESRCH); /* the agent died while we forked */
	if (setsid() < 0)
		child_fail(errfd, BP_STAGE_SETUP, errno);
	if (req->tty) {
		if (ioctl(slave, TIOCSCTTY, 0) < 0)
			child_fail(errfd, BP_STAGE_SETUP, errno);
		fd0 = fd1 = fd2 = slave;
	}
	if (dup2(fd0, 0) < 0 || dup2(fd1, 1) < 0 || dup2(fd2, 2) < 0)
		child_fail(errfd, BP_STAGE_SETUP, errno);
	const char *cwd = req->cwd ? req->cwd : "/root";
	if (chdir(cwd) < 0)
		child_fail(errfd, BP_STAGE_CWD, errno);
	child_fail(errfd, BP_STAGE_EXEC, exec_search(req->argv, req->envp));
}

static void close_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

static int cloexec(int fd) { return fcntl(fd, F_SETFD, FD_CLOEXEC); }

static int fail(struct spawn_result *r, int stage, int err, const char *what)
{
	r->stage = stage;
	r->err = err;
	snprintf(r->message, sizeof(r->message), "%s: %s", what, strerror(err));
	return -1;
}

static void describe_failure(const struct spawn_request *req, struct spawn_result *r)
{
	const char *cwd = req->cwd ? req->cwd : "/root";
	const char *file = req->argv[0];
	if (r->stage == BP_STAGE_CWD) {
		snprintf(r->message, sizeof(r->message), "working directory %s: %s", cwd,
			 strerror(r->err));
	} else if (r->stage == BP_STAGE_EXEC && r->err == ENOENT && !strchr(file, '/')) {
		const char *path = env_get(req->envp, "PATH");
		snprintf(r->message, sizeof(r->message), "command not found: %s (PATH=%s)", file,
			 path ? path : DEFAULT_PATH);
	} else if (r->stage == BP_STAGE_EXEC) {
		snprintf(r->message, sizeof(r->message), "cannot execute %s: %s", file,
			 strerror(r->err));
	} else {
		snprintf(r->message, sizeof(r->message), "cannot start %s: %s", file,
			 strerror(r->err));
	}
}

int spawn_process(const struct spawn_request *req, struct spawn_result *r)
{
	memset(r, 0, sizeof(*r));
	r->pid = -1;
	r->stdin_fd = r->stdout_fd = r->stderr_fd = -1;

	/* Check the working directory here, where the message can name it plainly. */
	const char *cwd = req->cwd ? req->cwd : "/root";
	struct stat st;
	int sr = stat(cwd, &st);
	if (sr < 0 || !S_ISDIR(st.st_mode)) {
		r->stage = BP_STAGE_CWD;
		r->err = sr < 0 ? errno : ENOTDIR;
		if (r->err == ENOENT)
			snprintf(r->message, sizeof(r->message),
				 "working directory %s does not exist in the guest", cwd);
		else if (r->err == ENOTDIR)
			snprintf(r->message, sizeof(r->message),
				 "working directory %s is not a directory", cwd);
		else
			describe_failure(req, r);
		return -1;
	}

	int errp[2] = {-1, -1}, in[2] = {-1, -1}, out[2] = {-1, -1}, err[2] = {-1, -1};
	int master = -1, slave = -1;
	if (pipe2(errp, O_CLOEXEC) < 0)
		return fail(r, BP_STAGE_SETUP, errno, "pipe");
	if (req->tty) {
		struct winsize ws = {.ws_row = req->rows ? req->rows : 24,
				     .ws_col = req->cols ? req->cols : 80};
		if (openpty(&master, &slave, NULL, NULL, &ws) < 0) {
			fail(r, BP_STAGE_SETUP, errno, "openpty");
			goto out_fail;
		}
		cloexec(master);
		cloexec(slave);
	} else if (pipe2(in, O_CLOEXEC) < 0 || pipe2(out, O_CLOEXEC) < 0 ||
		   pipe2(err, O_CLOEXEC) < 0) {
		fail(r, BP_STAGE_SETUP, errno, "pipe");
		goto out_fail;
	}

	pid_t pid = fork();
	if (pid < 0) {
		fail(r, BP_STAGE_SETUP, errno, "fork");
		goto out_fail;
	}
	if (pid == 0)
		child_main(req, errp[1], in[0], out[1], err[1], slave);

	close_fd(&errp[1]);
	close_fd(&in[0]);
	close_fd(&out[1]);
	close_fd(&err[1]);
	close_fd(&slave);

	/* The child writes its failure or the pipe closes on a successful execve. */
	struct child_failure f;
	size_t got = 0;
	while (got < sizeof(f)) {
		ssize_t n = read(errp[0], (char *)&f + got, sizeof(f) - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	close_fd(&errp[0]);
	if (got == sizeof(f)) {
		while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
			;
		r->stage = f.stage;
		r->err = f.err;
		describe_failure(req, r);
		goto out_fail;
	}

	r->pid = pid;
	if (req->tty) {
		r->stdout_fd = master;
		r->stdin_fd = fcntl(master, F_DUPFD_CLOEXEC, 3);
		r->stderr_fd = -1;
		if (r->stdin_fd < 0) {
			/* the process runs; it just gets no input */
			log_msg("dup of pty master failed: %s", strerror(errno));
		}
	} else {
		r->stdin_fd = in[1];
		r->stdout_fd = out[0];
		r->stderr_fd = err[0];
	}
	set_nonblock(r->stdout_fd);
	if (r->stdin_fd >= 0)
		set_nonblock(r->stdin_fd);
	if (r->stderr_fd >= 0)
		set_nonblock(r->stderr_fd);
	return 0;

out_fail:
	close_fd(&errp[0]);
	close_fd(&errp[1]);
	close_fd(&in[0]);
	close_fd(&in[1]);
	close_fd(&out[0]);
	close_fd(&out[1]);
	close_fd(&err[0]);
	close_fd(&err[1]);
	close_fd(&master);
	close_fd(&slave);
	return -1;
}
