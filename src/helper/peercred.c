/*
 * banger-peercred: prints the credentials the kernel recorded for the peer of the unix
 * socket on standard input, as "PID UID GID\n" (SO_PEERCRED: taken at connect() time, not
 * forgeable by the peer). bangerd-root runs it with each accepted connection as stdin,
 * because Node has no getsockopt. It never reads or writes the socket itself.
 * Exit status: 0 with one line on stdout, 1 with a message on stderr.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

int main(void) {
  struct ucred cred;
  socklen_t len = sizeof cred;
  int type = 0;
  socklen_t type_len = sizeof type;
  if (getsockopt(0, SOL_SOCKET, SO_TYPE, &type, &type_len) != 0) {
    fprintf(stderr, "banger-peercred: stdin is not a socket: %s\n", strerror(errno));
    return 1;
  }
  if (getsockopt(0, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0 || len != sizeof cred) {
    fprintf(stderr, "banger-peercred: SO_PEERCRED: %s\n", strerror(errno));
    return 1;
  }
  if (printf("%ld %lu %lu\n", (long)cred.pid, (unsigned long)cred.uid, (unsigned long)cred.gid) < 0 ||
      fflush(stdout) != 0)
    return 1;
  return 0;
}
