/**
 * The contract every VMM backend implements. Backends are wired explicitly in the daemon's
 * composition root; the daemon never knows which VMM it drives beyond `kind` and the
 * capability flags.
 */
import type { Duplex } from 'node:stream';
import type { DiskSpec, VmLaunchSpec, VmmHandles, VmmKind } from '../protocol/index.js';

export interface VmmCapabilities {
  pause: boolean;
  /** saveState on instances and restoreState on the backend (docs/warm-start.md). */
  snapshot: boolean;
  vsock: boolean;
  balloon: boolean;
}

/**
 * A running guest saved by a backend (VmmInstance.saveState): files in one directory that
 * VmmBackend.restoreState starts a new VMM from. Restoring needs exactly the disks as they
 * were at save time and the same devices and memory size; the backends do not check that,
 * the caller does (docs/warm-start.md).
 */
export interface SavedVmState {
  backend: VmmKind;
  /** Device state; with no memoryFile, guest RAM too. */
  stateFile: string;
  /** Guest RAM as a file the restored VM maps copy-on-write (shared by every clone). */
  memoryFile?: string | undefined;
  compression: 'none' | 'zstd';
}

export interface SaveStateOptions {
  /** Directory the files go to (it exists; the files must not). */
  dir: string;
  /** Compress a state file that holds guest RAM (zstd), after the guest was let go. */
  compress?: boolean;
  /** Runs while the guest is stopped at the end of the save, before it is let go: the moment
   * its disks are exactly as the saved state expects (snapshots copy them here). */
  whileStopped?: () => Promise<void>;
  signal?: AbortSignal;
}

/**
 * How a VMM ended. `unknown`: we were not its parent (it outlives daemon restarts), so there
 * is no exit status; `reason` says what the VMM reported before it went, when it did (QEMU's
 * SHUTDOWN reason: guest-shutdown, guest-panic, guest-reset, host-qmp-quit...) or `killed`.
 */
export type VmmExit =
  | { kind: 'exited'; code: number | null; signal: string | null }
  | { kind: 'unknown'; reason?: string };

export interface VmmInstance {
  readonly handles: VmmHandles;
  /** Opens the raw byte stream to the guest agent channel (one client at a time). */
  connectAgent(options?: { signal?: AbortSignal }): Promise<Duplex>;
  /** Asks the guest to power off through the VMM (ACPI); the guest may ignore it. */
  requestPowerdown(): Promise<void>;
  /** Kills the VMM process and waits until it is gone. Always works; idempotent. */
  kill(): Promise<void>;
  /** Resolves once the VMM process has exited, however that happened. */
  readonly exited: Promise<VmmExit>;
  /** True while the VMM process is alive. */
  isAlive(): boolean;
  /** Releases host-side resources of this handle (control connections); the VMM keeps running. */
  detach(): void;
  /** Freezes the guest's vCPUs (backends with capabilities.pause). */
  pause?(): Promise<void>;
  /** Lets a paused guest run again (backends with capabilities.pause). */
  resume?(): Promise<void>;
  /**
   * Saves the running guest (backends with capabilities.snapshot). Afterwards the guest is
   * stopped: resume() lets it go on, kill() ends it.
   */
  saveState?(options: SaveStateOptions): Promise<SavedVmState>;
}

export interface VmmBackend {
  readonly kind: VmmKind;
  readonly capabilities: VmmCapabilities;
  /**
   * Makes the VM's own copy-on-write root disk over the read-only base image at `dest`.
   * Returns the disk the launch spec should name.
   */
  createRootDisk(base: { path: string; format: 'raw' | 'qcow2' }, dest: string): Promise<DiskSpec>;
  /** Starts the VMM. On failure nothing it started is left running. */
  launch(spec: VmLaunchSpec, options?: { signal?: AbortSignal }): Promise<VmmInstance>;
  /** Re-attaches to a VMM a previous daemon started; undefined when that process is gone. */
  adopt(handles: VmmHandles): Promise<VmmInstance | undefined>;
  /**
   * Starts a VMM from a saved guest instead of booting (capabilities.snapshot). `spec`
   * describes the same devices and memory as the saved VM, with this VM's own disks, tap and
   * sockets; the guest runs once restored. On failure nothing it started is left running.
   */
  restoreState?(
    spec: VmLaunchSpec,
    saved: SavedVmState,
    options?: { signal?: AbortSignal },
  ): Promise<VmmInstance>;
}
