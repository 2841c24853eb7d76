/**
 * Linux numbers that cross the agent protocol: signals (SIGNAL, EXIT) and errno values
 * (EXEC_FAILED). The guest is Linux whatever the host is, so these are fixed tables rather
 * than the host's os.constants (x86-64 and arm64 share these numbers).
 */

export const LINUX_SIGNALS = {
  SIGHUP: 1,
  SIGINT: 2,
  SIGQUIT: 3,
  SIGILL: 4,
  SIGTRAP: 5,
  SIGABRT: 6,
  SIGBUS: 7,
  SIGFPE: 8,
  SIGKILL: 9,
  SIGUSR1: 10,
  SIGSEGV: 11,
  SIGUSR2: 12,
  SIGPIPE: 13,
  SIGALRM: 14,
  SIGTERM: 15,
  SIGSTKFLT: 16,
  SIGCHLD: 17,
  SIGCONT: 18,
  SIGSTOP: 19,
  SIGTSTP: 20,
  SIGTTIN: 21,
  SIGTTOU: 22,
  SIGURG: 23,
  SIGXCPU: 24,
  SIGXFSZ: 25,
  SIGVTALRM: 26,
  SIGPROF: 27,
  SIGWINCH: 28,
  SIGIO: 29,
  SIGPWR: 30,
  SIGSYS: 31,
} as const;
export type LinuxSignalName = keyof typeof LINUX_SIGNALS;

/** The Linux number of a signal name ('SIGTERM' or 'TERM'), undefined when unknown. */
export function linuxSignalNumber(name: string): number | undefined {
  const key = (name.startsWith('SIG') ? name : `SIG${name}`) as LinuxSignalName;
  return Object.hasOwn(LINUX_SIGNALS, key) ? LINUX_SIGNALS[key] : undefined;
}

/** 'SIGTERM' for 15; real-time and unknown signals come back as 'SIG34' and the like. */
export function linuxSignalName(signal: number): string {
  for (const [name, value] of Object.entries(LINUX_SIGNALS)) if (value === signal) return name;
  return `SIG${signal}`;
}

const ERRNO_NAMES: Readonly<Record<number, string>> = {
  1: 'EPERM',
  2: 'ENOENT',
  5: 'EIO',
  7: 'E2BIG',
  8: 'ENOEXEC',
  11: 'EAGAIN',
  12: 'ENOMEM',
  13: 'EACCES',
  16: 'EBUSY',
  20: 'ENOTDIR',
  21: 'EISDIR',
  22: 'EINVAL',
  23: 'ENFILE',
  24: 'EMFILE',
  26: 'ETXTBSY',
  36: 'ENAMETOOLONG',
  40: 'ELOOP',
  32: 'EPIPE',
  97: 'EAFNOSUPPORT',
  99: 'EADDRNOTAVAIL',
  101: 'ENETUNREACH',
  103: 'ECONNABORTED',
  104: 'ECONNRESET',
  110: 'ETIMEDOUT',
  111: 'ECONNREFUSED',
  113: 'EHOSTUNREACH',
};

/** 'ENOENT' for 2, 'errno 95' for numbers outside the table. */
export function linuxErrnoName(errno: number): string {
  return ERRNO_NAMES[errno] ?? `errno ${errno}`;
}
