/**
 * manifest.json inside a bundle: what the bundle holds (an image's rootfs.ext4, or a kernel's
 * files), each file with its size and sha256, so the extracted bytes are checked a second time
 * (the bundle's own sha256 in the catalog is the first).
 */
import { badRequest } from '../../base/index.js';
import { IMAGE_NAME_PATTERN } from '../image-name.js';
import { PACKAGE_MANAGERS, type PackageManager, type Userland } from '../userland.js';

export const BUNDLE_MANIFEST = 'manifest.json';
export const BUNDLE_ROOTFS = 'rootfs.ext4';
/** Files a kernel bundle may hold besides its manifest. */
export const KERNEL_BUNDLE_FILES = ['vmlinux', 'initrd.img', 'config'] as const;

export interface BundleFile {
  name: string;
  size: number;
  sha256: string;
}

export interface BundleManifest {
  schema: 1;
  kind: 'image' | 'kernel';
  name: string;
  arch: 'amd64';
  /** image bundles: the kernel it boots with. */
  kernel?: string;
  /** kernel bundles: the release string. */
  kernelVersion?: string;
  files: BundleFile[];
  userland?: Userland;
  /** Free text: where the content came from (e.g. "oci docker.io/library/alpine:3.19"). */
  origin?: string;
  createdAt: string;
}

export function parseBundleManifest(
  text: string,
  kind: 'image' | 'kernel',
  where: string,
): BundleManifest {
  const bad = (rule: string): Error => badRequest(`${where}: ${BUNDLE_MANIFEST} ${rule}`);
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    throw bad('is not valid JSON');
  }
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) throw bad('must be an object');
  const m = doc as Record<string, unknown>;
  if (m.schema !== 1) throw bad('schema must be 1');
  if (m.kind !== kind) throw bad(`kind must be "${kind}"`);
  if (typeof m.name !== 'string' || !IMAGE_NAME_PATTERN.test(m.name))
    throw bad('name is not a valid name');
  if (m.arch !== 'amd64') throw bad(`arch must be "amd64" (got ${JSON.stringify(m.arch)})`);
  const allowed: readonly string[] = kind === 'image' ? [BUNDLE_ROOTFS] : KERNEL_BUNDLE_FILES;
  if (!Array.isArray(m.files) || m.files.length === 0 || m.files.length > allowed.length) {
    throw bad(`files must list 1 to ${String(allowed.length)} files`);
  }
  const files = m.files.map((f: unknown, i): BundleFile => {
    const o = (typeof f === 'object' && f !== null ? f : {}) as Record<string, unknown>;
    if (typeof o.name !== 'string' || !allowed.includes(o.name)) {
      throw bad(`files[${String(i)}].name must be one of ${allowed.join(', ')}`);
    }
    if (typeof o.size !== 'number' || !Number.isSafeInteger(o.size) || o.size < 0) {
      throw bad(`files[${String(i)}].size must be a non-negative integer`);
    }
    if (typeof o.sha256 !== 'string' || !/^[0-9a-f]{64}$/.test(o.sha256)) {
      throw bad(`files[${String(i)}].sha256 must be 64 lowercase hex digits`);
    }
    return { name: o.name, size: o.size, sha256: o.sha256 };
  });
  if (new Set(files.map((f) => f.name)).size !== files.length) throw bad('lists a file twice');
  const required = kind === 'image' ? BUNDLE_ROOTFS : 'vmlinux';
  if (!files.some((f) => f.name === required)) throw bad(`must list ${required}`);
  if (typeof m.createdAt !== 'string' || Number.isNaN(Date.parse(m.createdAt)))
    throw bad('createdAt must be a date');
  const out: BundleManifest = {
    schema: 1,
    kind,
    name: m.name,
    arch: 'amd64',
    files,
    createdAt: m.createdAt,
  };
  if (m.kernel !== undefined) {
    if (typeof m.kernel !== 'string' || !IMAGE_NAME_PATTERN.test(m.kernel))
      throw bad('kernel is not a kernel name');
    out.kernel = m.kernel;
  }
  if (m.kernelVersion !== undefined) {
    if (
      typeof m.kernelVersion !== 'string' ||
      !/^[A-Za-z0-9][A-Za-z0-9.+~_-]{0,127}$/.test(m.kernelVersion)
    ) {
      throw bad('kernelVersion is not a kernel release');
    }
    out.kernelVersion = m.kernelVersion;
  }
  if (m.userland !== undefined) {
    const u = (typeof m.userland === 'object' && m.userland !== null ? m.userland : {}) as Record<
      string,
      unknown
    >;
    if (
      typeof u.init !== 'boolean' ||
      typeof u.sshd !== 'boolean' ||
      (u.packageManager !== null &&
        !(PACKAGE_MANAGERS as readonly unknown[]).includes(u.packageManager))
    ) {
      throw bad('userland must be {init, sshd, packageManager}');
    }
    out.userland = {
      init: u.init,
      sshd: u.sshd,
      packageManager: u.packageManager as PackageManager | null,
    };
  }
  if (typeof m.origin === 'string') out.origin = m.origin.slice(0, 500);
  return out;
}
