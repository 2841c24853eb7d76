/**
 * The narrow views of other modules that the daemon's services depend on. The composition
 * root adapts the real kernel store, image store and agent client to these; unit tests
 * pass fakes that implement the same shapes.
 */
import type { Duplex, Readable, Writable } from 'node:stream';
import type {
  Accel,
  ExitStatusInfo,
  ListeningPort,
  NicSpec,
  RestoreDonePayload,
  RestorePayload,
  TtySpec,
  VmNetworkInfo,
} from '../protocol/index.js';
import type { VmRecord } from '../store/index.js';
import type { ProgressSink } from '../base/index.js';

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

export interface GuestTcpOptions {
  /** Numeric IPv4 or IPv6 address inside the guest (default 127.0.0.1). */
  host?: string;
  signal?: AbortSignal;
}

export interface AgentSession {
  readonly bootId: string;
  exec(request: AgentExecRequest): Promise<AgentExec>;
  shutdown(kind: 'poweroff' | 'reboot'): Promise<void>;
  /**
   * A byte stream to a TCP port inside the guest, carried by the agent channel (no route
   * needed). end() half-closes towards the guest; the readable side ends when the guest side
   * does; destroy() resets the connection. Rejects with 'unavailable' when the guest refuses
   * the connection (details.errno, e.g. 'ECONNREFUSED'), 'precondition_failed' when the
   * image's agent lacks the 'forward' capability, 'bad_request' for a bad port or host.
   */
  openTcp(port: number, options?: GuestTcpOptions): Promise<Duplex>;
  /** The guest's listening TCP sockets (IPv4 and IPv6) right now. */
  listPorts(options?: { signal?: AbortSignal }): Promise<ListeningPort[]>;
  /**
   * Calls `listener` with the full list of listening sockets now, then again each time it
   * changes (the agent polls about every 500 ms while anyone watches). Returns the
   * unsubscribe function. Never called after the connection closed.
   */
  watchPorts(listener: (ports: readonly ListeningPort[]) => void): () => void;
  close(): void;
  /** Resolves when the channel to the guest is gone. */
  readonly closed: Promise<void>;
  /** What the agent announced in its handshake (absent in older fakes). */
  readonly agentVersion?: string;
  readonly capabilities?: readonly string[];
  /**
   * Capability `restore`: gives a guest restored from a saved state its own identity
   * (docs/agent-protocol.md, "Restore"); resolves with what was applied and what failed.
   */
  restore?(
    request: Omit<RestorePayload, 'requestId'>,
    options?: { timeoutMs?: number },
  ): Promise<RestoreDonePayload>;
  /** Capability `restore`: first-boot work done and filesystems synced, before a save. */
  prepareSave?(options?: { timeoutMs?: number }): Promise<number>;
}

export interface AgentConnector {
  /** Handshakes over a fresh agent byte stream; rejects on timeout or a broken stream. */
  connect(
    stream: Duplex,
    options: { timeoutMs: number; signal?: AbortSignal },
  ): Promise<AgentSession>;
}

/** What a `booted` hook may tell the caller who started the VM. */
export interface BootContext {
  progress: ProgressSink;
  notice?: ((message: string) => void) | undefined;
  signal?: AbortSignal | undefined;
}

/**
 * A part of the daemon that takes part in every VM's life (SSH keys, port forwards, network
 * addresses, DNS records). The VM service calls each hook of each registered part, in
 * registration order. kernelArgs failing fails the boot; the other hooks' failures are
 * logged and never undo the lifecycle step.
 */
export interface VmLifecycleHooks {
  /** Extra kernel arguments for this boot (banger-init reads `banger.*` ones). */
  kernelArgs?(vm: VmRecord): Promise<string[]> | string[];
  /**
   * A VM restored from a saved state got its own identity, before `started`: the SSH host
   * key banger made for it and the guest now uses (when the image has OpenSSH).
   */
  restored?(
    vm: VmRecord,
    identity: { sshHostKey?: { type: string; blob: string } | undefined },
  ): Promise<void> | void;
  /** The guest answered: after a boot, and when a restarted daemon adopts a running VM. */
  started?(vm: VmRecord, agent: AgentSession): Promise<void> | void;
  /**
   * After a boot made for a caller (not on adoption), after `started`, with the caller's
   * progress and notices: setup that belongs to each start (file_sync copies).
   */
  booted?(vm: VmRecord, agent: AgentSession, ctx: BootContext): Promise<void> | void;
  /** The VM stopped by any route: stop, kill, the VMM died, delete. Not on daemon shutdown. */
  stopped?(vm: VmRecord): Promise<void> | void;
  /** The VM's record and files are gone (after `stopped`). */
  deleted?(vm: VmRecord): Promise<void> | void;
}

/** How one boot attaches to banger's network (VmNetwork.prepareBoot). */
export interface BootNetwork {
  nics: NicSpec[];
  /** Launch the VMM inside this namespace (isolated mode). */
  netns?: string | undefined;
  /** banger.ip / banger.gw / banger.dns for banger-init. */
  kernelArgs: string[];
}

/** What the VM service asks of the network (VmNetwork), beyond the lifecycle hooks. */
export interface VmNetworkPort {
  /** At create: the VM's addresses and NAT choice (released with the VM). */
  reserve(vm: VmRecord, options: { nat: boolean }): unknown;
  release(vmId: string): void;
  /** Before a boot: tap, namespace and address arguments. */
  prepareBoot(vm: VmRecord): Promise<BootNetwork>;
  /**
   * Removes the VM's tap (and the network with the last VM): after a failed boot, and before
   * stop, kill and delete return, so their caller sees the network as it now is.
   */
  detach(vm: VmRecord): Promise<void>;
  describe(vm: VmRecord): VmNetworkInfo | undefined;
  setNat(vm: VmRecord, nat: boolean): Promise<void>;
}
