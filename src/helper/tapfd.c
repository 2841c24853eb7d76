/*
 * banger-tapfd: opens a VM's taps as root and hands them to the VMM as file descriptors,
 * so the VMM (which then runs as the install's owner) never needs /dev/net/tun itself:
 *
 *   banger-tapfd --tap NAME [--tap NAME]... -- PROGRAM [ARG]...
 *
 * Each tap is attached (TUNSETIFF: IFF_TAP | IFF_NO_PI | IFF_VNET_HDR) on a fresh
 * /dev/net/tun descriptor, placed at fd 3, 4, ... in order, and PROGRAM is exec'ed with
 * them open (QEMU: -netdev tap,fd=3). It runs in the caller's network namespace (bangerd-root
 * starts it under `ip netns exec`), accepts only banger's tap names, and runs no shell.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#define MAX_TAPS 4

/* From <linux/if_tun.h>, which musl's toolchain does not ship (stable kernel ABI). */
#ifndef TUNSETIFF
#define TUNSETIFF _IOW('T', 202, int)
#endif
#define BANGER_IFF_TAP 0x0002
#define BANGER_IFF_NO_PI 0x1000
#define BANGER_IFF_VNET_HDR 0x4000

/* banger's taps: "bg-" + 12 lowercase hex digits (network/interface-names.ts). */
static int is_banger_tap(const char *name) {
  if (strlen(name) != 15 || strncmp(name, "bg-", 3) != 0) return 0;
  for (const char *p = name + 3; *p; p++)
    if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f'))) return 0;
  return 1;
}

int main(int argc, char **argv) {
  const char *taps[MAX_TAPS];
  int count = 0;
  int i = 1;
  for (; i < argc && strcmp(argv[i], "--") != 0; i += 2) {
    if (strcmp(argv[i], "--tap") != 0 || i + 1 >= argc || count == MAX_TAPS ||
        !is_banger_tap(argv[i + 1])) {
      fprintf(stderr, "banger-tapfd: usage: --tap bg-<12 hex> (at most %d) -- PROGRAM [ARG]...\n",
              MAX_TAPS);
      return 2;
    }
    taps[count++] = argv[i + 1];
  }
  if (i >= argc - 1 || count == 0) {
    fprintf(stderr, "banger-tapfd: nothing to run\n");
    return 2;
  }
  for (int t = 0; t < count; t++) {
    int fd = open("/dev/net/tun", O_RDWR);
    if (fd < 0) {
      fprintf(stderr, "banger-tapfd: open /dev/net/tun: %s\n", strerror(errno));
      return 1;
    }
    struct ifreq ifr;
    memset(&ifr, 0, sizeof ifr);
    ifr.ifr_flags = BANGER_IFF_TAP | BANGER_IFF_NO_PI | BANGER_IFF_VNET_HDR;
    memcpy(ifr.ifr_name, taps[t], strlen(taps[t]));
    if (ioctl(fd, TUNSETIFF, &ifr) != 0) {
      fprintf(stderr, "banger-tapfd: attach %s: %s\n", taps[t], strerror(errno));
      return 1;
    }
    int want = 3 + t;
    if (fd != want) {
      if (dup2(fd, want) < 0) {
        fprintf(stderr, "banger-tapfd: dup2: %s\n", strerror(errno));
        return 1;
      }
      close(fd);
    }
  }
  execvp(argv[i + 1], &argv[i + 1]);
  fprintf(stderr, "banger-tapfd: exec %s: %s\n", argv[i + 1], strerror(errno));
  return 127;
}
