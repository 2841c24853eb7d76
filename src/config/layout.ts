/**
 * Every path banger uses, named once. User mode follows XDG; a system install uses the FHS
 * locations. Functions of a VM id give that VM's own files.
 */
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { readFileSync } from 'node:fs';

export type InstallMode = 'user' | 'system';

export interface Layout {
  mode: InstallMode;
  /** config.toml lives here (~/.config/banger, /etc/banger). */
  configDir: string;
  configFile: string;
  /** Durable state: database, kernels, images, per-VM disks (~/.local/state/banger, /var/lib/banger). */
  stateDir: string;
  /** Re-creatable downloads and scratch space (~/.cache/banger, /var/cache/banger). */
  cacheDir: string;
  /** Sockets and live handles; private, gone at reboot ($XDG_RUNTIME_DIR/banger, /run/banger). */
  runtimeDir: string;
  /** SQLite database with VM records. */
  dbFile: string;
  /** The daemon's RPC socket (0600). */
  daemonSocket: string;
  /** The daemon's log (JSON lines). */
  daemonLog: string;
  /** Pid of the running daemon, for `banger` to find and for tests to kill. */
  daemonPidFile: string;
  /** Kernel store: one directory per kernel with manifest.json. */
  kernelsDir: string;
  /** Image store: one directory per image with manifest.json and rootfs.ext4. */
  imagesDir: string;
  /** Per-VM durable files (overlay, work disk, console log). */
  vmsDir: string;
  /** Per-VM runtime files (sockets). Kept short: unix socket paths max out at 107 bytes. */
  vmRunDir: string;
  /** Scratch space for builds (same filesystem as the stores so renames are atomic). */
  tmpDir: string;
  /** Console logs of VMs that failed to boot, kept for the user after the VM is gone. */
  logsDir: string;
  /** Warm templates: one directory per saved guest (state, memory, frozen disks, manifest). */
  warmDir: string;
  /** `vm snapshot`s: one directory per snapshot name, laid out like a warm template. */
  snapshotsDir: string;
  /** Compiled guest programs (banger-init, banger-agent) injected into images. */
  guestBinDir: string;
  /** Cached host probe verdicts (KVM usable or not). */
  probeCacheFile: string;
  /** OCI blobs by digest (blobs/sha256/<hex>) and resumable partial downloads, shared by images. */
  ociCacheDir: string;
  /** Downloaded catalog bundles (image and kernel .tar.zst), by sha256. */
  bundleCacheDir: string;
  /** banger's own SSH material (0700): the install key, known_hosts, ssh_config. */
  sshDir: string;
  /** The install's ed25519 private key (0600), put into every guest's authorized_keys. */
  sshKeyFile: string;
  /** banger's own known_hosts: guests' host keys pinned on first use, as `<name>.vm`. */
  sshKnownHostsFile: string;
  /** ssh_config with a `Host *.vm` block (`banger ssh-config`; Included from ~/.ssh/config). */
  sshConfigFile: string;
  /**
   * Prefix of every system-install path ("/" normally). Set by `banger system install --root`
   * (tests and packaging) and carried to the services as BANGER_SYSTEM_ROOT.
   */
  systemRoot: string;
  /** The system install's record (owner, uid, gid, version, time), root-owned: /etc/banger/install.toml. */
  installFile: string;
  /** bangerd-root's socket (0600, the owner's) in a root-owned 0711 directory: /run/bangerd-root. */
  helperSocket: string;
}

export interface LayoutInputs {
  env?: NodeJS.ProcessEnv;
  uid?: number;
  home?: string;
  mode?: InstallMode;
  /** Prefix of the system-install paths (default: env BANGER_SYSTEM_ROOT, else "/"). */
  systemRoot?: string;
}

/** Where a system install's paths start: env BANGER_SYSTEM_ROOT (absolute) or "/". */
export function systemRootFrom(env: NodeJS.ProcessEnv): string {
  const root = env.BANGER_SYSTEM_ROOT;
  return root !== undefined && path.isAbsolute(root) ? path.resolve(root) : '/';
}

/** A system-install path under `root` (e.g. sysPath("/", "etc/banger") = "/etc/banger"). */
export function sysPath(root: string, relative: string): string {
  return path.join(root, relative);
}

let root: string | undefined;

/**
 * The repository (or install) root: the nearest directory above this file whose package.json
 * is banger's. Found by walking up, so it holds from source (src/config), from the build
 * (dist/src/config) and from the bundled CLI (dist/src/cli/banger.mjs) alike.
 */
export function packageRoot(): string {
  if (root !== undefined) return root;
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (;;) {
    try {
      const pkg = JSON.parse(readFileSync(path.join(dir, 'package.json'), 'utf8')) as {
        name?: unknown;
      };
      if (pkg.name === 'banger') return (root = dir);
    } catch {
      /* no package.json here: keep walking up */
    }
    const parent = path.dirname(dir);
    if (parent === dir)
      throw new Error(
        'banger: cannot find its own package.json above ' + fileURLToPath(import.meta.url),
      );
    dir = parent;
  }
}

export function resolveLayout(inputs: LayoutInputs = {}): Layout {
  const env = inputs.env ?? process.env;
  const uid = inputs.uid ?? process.getuid?.() ?? 0;
  const home = inputs.home ?? env.HOME ?? os.homedir();
  const mode = inputs.mode ?? (env.BANGER_MODE === 'system' ? 'system' : 'user');
  const sys = inputs.systemRoot ?? systemRootFrom(env);

  const configDir =
    mode === 'system'
      ? sysPath(sys, 'etc/banger')
      : path.join(env.XDG_CONFIG_HOME ?? path.join(home, '.config'), 'banger');
  const stateDir =
    mode === 'system'
      ? sysPath(sys, 'var/lib/banger')
      : path.join(env.XDG_STATE_HOME ?? path.join(home, '.local', 'state'), 'banger');
  const cacheDir =
    mode === 'system'
      ? sysPath(sys, 'var/cache/banger')
      : path.join(env.XDG_CACHE_HOME ?? path.join(home, '.cache'), 'banger');
  const runtimeDir =
    mode === 'system'
      ? sysPath(sys, 'run/banger')
      : env.XDG_RUNTIME_DIR
        ? path.join(env.XDG_RUNTIME_DIR, 'banger')
        : uid === 0
          ? '/run/banger'
          : path.join(os.tmpdir(), `banger-${String(uid)}`);

  return {
    mode,
    configDir,
    configFile: path.join(configDir, 'config.toml'),
    stateDir,
    cacheDir,
    runtimeDir,
    dbFile: path.join(stateDir, 'banger.db'),
    daemonSocket: path.join(runtimeDir, 'bangerd.sock'),
    daemonLog: path.join(stateDir, 'bangerd.log'),
    daemonPidFile: path.join(runtimeDir, 'bangerd.pid'),
    kernelsDir: path.join(stateDir, 'kernels'),
    imagesDir: path.join(stateDir, 'images'),
    vmsDir: path.join(stateDir, 'vms'),
    vmRunDir: path.join(runtimeDir, 'vms'),
    tmpDir: path.join(stateDir, 'tmp'),
    logsDir: path.join(stateDir, 'logs'),
    warmDir: path.join(stateDir, 'warm'),
    snapshotsDir: path.join(stateDir, 'snapshots'),
    guestBinDir: env.BANGER_GUEST_DIR ?? path.join(packageRoot(), 'build', 'guest'),
    probeCacheFile: path.join(cacheDir, 'host-probe.json'),
    ociCacheDir: path.join(cacheDir, 'oci'),
    bundleCacheDir: path.join(cacheDir, 'bundles'),
    sshDir: path.join(stateDir, 'ssh'),
    sshKeyFile: path.join(stateDir, 'ssh', 'id_ed25519'),
    sshKnownHostsFile: path.join(stateDir, 'ssh', 'known_hosts'),
    sshConfigFile: path.join(stateDir, 'ssh', 'ssh_config'),
    systemRoot: sys,
    installFile: sysPath(sys, 'etc/banger/install.toml'),
    helperSocket: sysPath(sys, 'run/bangerd-root/bangerd-root.sock'),
  };
}

/** A VM's durable directory. */
export function vmStateDir(layout: Layout, vmId: string): string {
  return path.join(layout.vmsDir, vmId);
}

/** A VM's runtime directory (sockets). */
export function vmRuntimeDir(layout: Layout, vmId: string): string {
  return path.join(layout.vmRunDir, vmId);
}

/** Names of the files inside a VM's directories. */
export const VM_FILES = {
  /** qcow2 overlay over the image's rootfs. */
  rootOverlay: 'root.qcow2',
  /** ext4 work disk mounted at /root in the guest. */
  workDisk: 'work.ext4',
  /** Guest serial console output. */
  consoleLog: 'console.log',
  /** VMM stdout/stderr. */
  vmmLog: 'vmm.log',
  /** VMM handles of the running instance (JSON). */
  handles: 'handles.json',
  /** QMP socket. */
  qmpSocket: 'qmp.sock',
  /** Agent channel socket. */
  agentSocket: 'agent.sock',
} as const;

/** Names of the guest programs, as built and as installed in images. */
export const GUEST_PROGRAMS = {
  init: 'banger-init',
  agent: 'banger-agent',
  /** Where images carry them (merged /usr: /sbin -> /usr/sbin). */
  guestDir: '/usr/sbin',
} as const;
