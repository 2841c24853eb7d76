/**
 * The manifest of a saved guest (a warm template or a `vm snapshot`): everything a restore
 * must find unchanged. QEMU itself checks nothing of the disks: a restore onto another disk
 * "works" and corrupts silently (HOST-NOTES), so every file is fingerprinted when saved and
 * checked before each use, and the launch the saved guest needs is kept in a normalised form
 * that the restoring VM's own launch must equal. Pure: no I/O.
 */
import type { Accel, VmLaunchSpec, VmmKind } from '../protocol/index.js';

/**
 * What changes whenever a file's bytes change (size, times, inode), read with nanosecond
 * times. A changed ctime cannot be undone without changing the clock, so a file that still
 * has its fingerprint was not written to since.
 */
export interface FileFingerprint {
  size: number;
  dev: string;
  ino: string;
  mtimeNs: string;
  ctimeNs: string;
}

export interface SavedFile {
  /** Name inside the saved state's directory, or an absolute path outside it (image, kernel). */
  path: string;
  fingerprint: FileFingerprint;
  /** Taken when saved, for small files (the state, the frozen root overlay). */
  sha256?: string | undefined;
}

export interface SavedShape {
  vcpus: number;
  memoryMib: number;
  /** Bytes of the work disk mounted on /root; 0: none (a `vm run --rm` VM). */
  workDiskBytes: number;
}

export interface SavedManifest {
  schema: 1;
  kind: 'template' | 'snapshot';
  /** 12 hex characters; a snapshot is also known by its name. */
  id: string;
  name?: string | undefined;
  createdAt: string;
  bangerVersion: string;
  backend: VmmKind;
  /** `qemu-system-x86_64 --version` (QEMU's migration format follows its version). */
  vmmVersion?: string | undefined;
  accel: Accel;
  image: { name: string; sha256: string; rootfs: SavedFile };
  /** sha256: one digest of the sha256 of every file in the kernel's manifest. */
  kernel: { name: string; sha256?: string | undefined; files: SavedFile[] };
  shape: SavedShape;
  /** launchShape() of the saved VM's launch. */
  launch: string;
  state: {
    file: SavedFile;
    compression: 'none' | 'zstd';
    memory?: SavedFile | undefined;
  };
  disks: { root: SavedFile & { format: 'raw' | 'qcow2' }; work?: SavedFile | undefined };
  /** The guest at save time. */
  guest: { agentVersion: string; bootId: string };
  /** A snapshot's source VM. */
  source?: { vm: string; id: string } | undefined;
}

/** Kernel arguments whose values belong to one VM; a restored VM gets its own through the agent. */
const PER_VM_ARGS = ['banger.hostname', 'banger.ip', 'banger.gw', 'banger.dns'];

/**
 * The launch as a restore sees it: devices, memory, CPU, kernel and its arguments, with the
 * parts that differ for every VM (its id, paths, tap, MAC, hostname and addresses) left out.
 * Two launches with equal shapes can restore each other's saved guests.
 */
export function launchShape(spec: VmLaunchSpec): string {
  return JSON.stringify({
    vcpus: spec.vcpus,
    memoryMib: spec.memoryMib,
    accel: spec.accel,
    kernel: spec.boot.kernelPath,
    initrd: spec.boot.initrdPath ?? null,
    args: spec.boot.args.map((arg) => {
      const key = arg.split('=', 1)[0] ?? arg;
      return PER_VM_ARGS.includes(key) ? `${key}=*` : arg;
    }),
    disks: spec.disks.map((d) => ({ id: d.id, format: d.format, readOnly: d.readOnly })),
    nics: spec.nics.length,
    netns: spec.netns !== undefined,
  });
}

/** The first difference between two launch shapes, for messages ("args", "disks"...). */
export function launchDifference(saved: string, now: string): string | undefined {
  if (saved === now) return undefined;
  try {
    const a = JSON.parse(saved) as Record<string, unknown>;
    const b = JSON.parse(now) as Record<string, unknown>;
    for (const key of new Set([...Object.keys(a), ...Object.keys(b)])) {
      if (JSON.stringify(a[key]) !== JSON.stringify(b[key])) return key;
    }
  } catch {
    /* an unreadable shape differs as a whole */
  }
  return 'launch';
}

export function sameFingerprint(a: FileFingerprint, b: FileFingerprint): boolean {
  return (
    a.size === b.size &&
    a.dev === b.dev &&
    a.ino === b.ino &&
    a.mtimeNs === b.mtimeNs &&
    a.ctimeNs === b.ctimeNs
  );
}

const ID = /^[0-9a-f]{12}$/;
const FILE_NAME = /^[a-z0-9][a-z0-9._-]{0,63}$/;

function isFingerprint(v: unknown): v is FileFingerprint {
  const f = v as Partial<FileFingerprint> | null;
  return (
    typeof f === 'object' &&
    f !== null &&
    Number.isSafeInteger(f.size) &&
    typeof f.dev === 'string' &&
    typeof f.ino === 'string' &&
    typeof f.mtimeNs === 'string' &&
    typeof f.ctimeNs === 'string'
  );
}

function isSavedFile(v: unknown, inside: boolean): v is SavedFile {
  const f = v as Partial<SavedFile> | null;
  if (typeof f !== 'object' || f === null || typeof f.path !== 'string') return false;
  // Files of the saved state itself are plain names in its directory, never paths.
  if (inside && !FILE_NAME.test(f.path)) return false;
  if (!inside && !f.path.startsWith('/')) return false;
  return (
    isFingerprint(f.fingerprint) && (f.sha256 === undefined || /^[0-9a-f]{64}$/.test(f.sha256))
  );
}

/**
 * Checks a manifest read from disk (banger wrote it, but a file can be damaged or edited):
 * the shape of every field, and that its own files are plain names inside its directory.
 * Returns why it is not usable, or undefined.
 */
export function manifestProblem(raw: unknown): string | undefined {
  const m = raw as Partial<SavedManifest> | null;
  if (typeof m !== 'object' || m === null) return 'not a JSON object';
  if (m.schema !== 1) return `schema ${String(m.schema)} is not 1`;
  if (m.kind !== 'template' && m.kind !== 'snapshot') return 'kind is not template or snapshot';
  if (typeof m.id !== 'string' || !ID.test(m.id)) return 'id is not 12 hex characters';
  if (m.backend !== 'qemu' && m.backend !== 'firecracker') return 'backend is unknown';
  if (m.accel !== 'kvm' && m.accel !== 'tcg') return 'accel is unknown';
  if (typeof m.bangerVersion !== 'string' || typeof m.launch !== 'string')
    return 'version or launch missing';
  const shape = m.shape;
  if (
    !shape ||
    !Number.isSafeInteger(shape.vcpus) ||
    !Number.isSafeInteger(shape.memoryMib) ||
    !Number.isSafeInteger(shape.workDiskBytes)
  )
    return 'shape is malformed';
  if (
    !m.image ||
    typeof m.image.name !== 'string' ||
    typeof m.image.sha256 !== 'string' ||
    !isSavedFile(m.image.rootfs, false)
  )
    return 'image is malformed';
  if (
    !m.kernel ||
    typeof m.kernel.name !== 'string' ||
    !Array.isArray(m.kernel.files) ||
    !m.kernel.files.every((f) => isSavedFile(f, false))
  )
    return 'kernel is malformed';
  const state = m.state;
  if (
    !state ||
    !isSavedFile(state.file, true) ||
    (state.compression !== 'none' && state.compression !== 'zstd') ||
    (state.memory !== undefined && !isSavedFile(state.memory, true))
  )
    return 'state is malformed';
  const disks = m.disks;
  if (
    !disks ||
    !isSavedFile(disks.root, true) ||
    (disks.root.format !== 'raw' && disks.root.format !== 'qcow2') ||
    (disks.work !== undefined && !isSavedFile(disks.work, true))
  )
    return 'disks are malformed';
  if ((disks.work !== undefined) !== shape.workDiskBytes > 0)
    return 'the work disk does not match the shape';
  if (!m.guest || typeof m.guest.agentVersion !== 'string' || typeof m.guest.bootId !== 'string')
    return 'guest is malformed';
  return undefined;
}
