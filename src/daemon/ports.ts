/**
 * The narrow views of other modules that the daemon's services depend on. The composition
 * root adapts the real kernel store, image store and agent client to these; unit tests
 * pass fakes that implement the same shapes.
 */
import type { Duplex, Readable, Writable } from 'node:stream';
import type { Accel, ExitStatusInfo, TtySpec } from '../protocol/index.js';

export interface KernelBootFiles {
  name: string;
  vmlinux: string;
  initrd?: string | undefined;
}

export interface KernelSource {
  /** Boot files of a kernel; not_found (with a hint) when it is not in the store. */
  bootFiles(name: string): Promise<KernelBootFiles>;
}

export interface ImageRootfs {
  name: string;
  path: string;
  format: 'raw' | 'qcow2';
  /** Kernel the image boots with by default. */
  kernel: string;
}

export interface ImageSource {
  rootfs(name: string): Promise<ImageRootfs>;
  /** Copies the image's /root into `dest` and returns the copy's path (seeds a work disk). */
  copyHome(name: string, dest: string): Promise<string>;
}

/** KVM when a probe boot proved it works on this host, TCG otherwise (cached verdict). */
export type AccelChooser = (kernel: KernelBootFiles) => Promise<Accel>;

export interface AgentExecRequest {
  argv: string[];
  env?: Record<string, string>;
  cwd?: string;
  tty?: TtySpec;
}

export interface AgentExec {
  stdin: Writable;
  stdout: Readable;
  stderr: Readable;
  resize(rows: number, cols: number): void;
  kill(signal: NodeJS.Signals): void;
  exit: Promise<ExitStatusInfo>;
}

export interface AgentSession {
  readonly bootId: string;
  exec(request: AgentExecRequest): Promise<AgentExec>;
  shutdown(kind: 'poweroff' | 'reboot'): Promise<void>;
  close(): void;
  /** Resolves when the channel to the guest is gone. */
  readonly closed: Promise<void>;
}

export interface AgentConnector {
  /** Handshakes over a fresh agent byte stream; rejects on timeout or a broken stream. */
  connect(
    stream: Duplex,
    options: { timeoutMs: number; signal?: AbortSignal },
  ): Promise<AgentSession>;
}
