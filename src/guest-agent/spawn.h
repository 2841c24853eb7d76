/* Starting one exec request: pipes or a pty, a new session, PATH search, errors by stage. */
#ifndef BANGER_SPAWN_H
#define BANGER_SPAWN_H

#include <sys/types.h>

#define DEFAULT_PATH "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

struct spawn_request {
	char **argv; /* NULL-terminated, argv[0] non-empty */
	char **envp; /* NULL-terminated */
	const char *cwd;
	int tty;
	unsigned short rows, cols;
};

struct spawn_result {
	pid_t pid;
	int stdin_fd;  /* pipe write end, or a dup of the pty master */
	int stdout_fd; /* pipe read end, or the pty master */
	int stderr_fd; /* pipe read end, or -1 in tty mode */
	/* on failure */
	int stage; /* enum bp_exec_stage */
	int err;   /* errno */
	char message[512];
};

/* 0 with r->pid and the fds set (non-blocking, close-on-exec), or -1 with stage/err/message. */
int spawn_process(const struct spawn_request *req, struct spawn_result *r);

#endif
