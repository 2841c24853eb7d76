/**
 * The kernel manifest (manifest.json in each kernel's directory) and its validator. A
 * manifest is read back from disk, where anyone with access to the state dir could have
 * edited it: every field is checked, file names cannot leave the kernel's directory, and
 * the vmlinux/initramfs must be files the manifest lists.
 */
import { BangerError } from '../base/index.js';
import type { VmmKind } from '../protocol/index.js';

export const KERNEL_NAME_PATTERN = /^[a-z0-9][a-z0-9._-]{0,63}$/;
export const KERNEL_NAME_RULE = 'must match [a-z0-9][a-z0-9._-]{0,63}';
export const MANIFEST_FILE = 'manifest.json';
export const MANIFEST_SCHEMA = 1;

/** A file inside the kernel's directory: a plain name, never a path. */
const FILE_NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;
const VERSION_PATTERN = /^[A-Za-z0-9][A-Za-z0-9.+~_-]{0,127}$/;
const PACKAGE_PATTERN = /^[a-z0-9][a-z0-9+.-]{1,127}$/;
const PACKAGE_VERSION_PATTERN = /^[A-Za-z0-9][A-Za-z0-9.+~:-]{0,127}$/;
const SHA256_PATTERN = /^[0-9a-f]{64}$/;
const CONFIG_NAME_PATTERN = /^[a-z0-9][a-z0-9._-]{0,63}$/;
const BACKENDS: readonly VmmKind[] = ['qemu', 'firecracker'];

export type KernelSourceInfo =
  | { kind: 'debian'; package: string; packageVersion: string }
  | { kind: 'import'; from: string }
  /** Pulled from a kernel catalog (`banger kernel pull NAME`). */
  | { kind: 'catalog'; catalog: string; entry: string; bundleSha256: string }
  /** Built by `banger kernel build` from a Debian source package with a named config. */
  | { kind: 'build'; package: string; packageVersion: string; config: string };

export interface KernelFileEntry {
  name: string;
  size: number;
  sha256: string;
}

export interface KernelManifest {
  schema: typeof MANIFEST_SCHEMA;
  name: string;
  /** The kernel's release string, e.g. 6.1.0-56-cloud-amd64 ("unknown" if it could not be read). */
  kernelVersion: string;
  source: KernelSourceInfo;
  files: KernelFileEntry[];
  /** Name (in `files`) of the ELF vmlinux. */
  vmlinux: string;
  /** Name (in `files`) of the initramfs, when the kernel needs one. */
  initramfs?: string;
  /** Name (in `files`) of the kernel's build config, when known. */
  config?: string;
  /** Backends that can boot it; always includes qemu. */
  backends: VmmKind[];
  createdAt: string;
}

/** What a builder leaves in its stage directory, described for the manifest. */
export type BuiltKernel = Omit<KernelManifest, 'schema' | 'name' | 'files' | 'createdAt'>;

export function isKernelName(name: unknown): name is string {
  return typeof name === 'string' && KERNEL_NAME_PATTERN.test(name);
}

export function assertKernelName(name: unknown): asserts name is string {
  if (!isKernelName(name)) {
    throw new BangerError('bad_request', `kernel name ${JSON.stringify(name)} ${KERNEL_NAME_RULE}`);
  }
}

/**
 * Validates parsed JSON as a manifest for the kernel directory `dirName`. Throws a
 * BangerError('operation_failed') naming the field and the rule.
 */
export function parseManifest(value: unknown, dirName: string): KernelManifest {
  const where = `kernel ${dirName}: manifest`;
  const bad = (field: string, rule: string): BangerError =>
    new BangerError('operation_failed', `${where} field ${field} ${rule}`, {
      hint: `the kernel's files were changed outside banger: remove it with \`banger kernel rm ${dirName}\` and pull or import it again`,
    });
  const obj = record(value, 'manifest', bad);
  allowKeys(
    obj,
    [
      'schema',
      'name',
      'kernelVersion',
      'source',
      'files',
      'vmlinux',
      'initramfs',
      'config',
      'backends',
      'createdAt',
    ],
    'manifest',
    bad,
  );
  if (obj.schema !== MANIFEST_SCHEMA) throw bad('schema', `must be ${String(MANIFEST_SCHEMA)}`);
  const name = text(obj.name, 'name', KERNEL_NAME_PATTERN, bad);
  if (name !== dirName) throw bad('name', `must equal the directory name ${dirName}`);
  const kernelVersion = text(obj.kernelVersion, 'kernelVersion', VERSION_PATTERN, bad);
  const source = parseSource(obj.source, bad);

  if (!Array.isArray(obj.files) || obj.files.length === 0 || obj.files.length > 16) {
    throw bad('files', 'must be a list of 1 to 16 files');
  }
  const files = obj.files.map((raw: unknown, i): KernelFileEntry => {
    const f = record(raw, `files[${String(i)}]`, bad);
    allowKeys(f, ['name', 'size', 'sha256'], `files[${String(i)}]`, bad);
    const size = f.size;
    if (typeof size !== 'number' || !Number.isSafeInteger(size) || size < 0) {
      throw bad(`files[${String(i)}].size`, 'must be a non-negative integer');
    }
    return {
      name: fileName(f.name, `files[${String(i)}].name`, bad),
      size,
      sha256: text(f.sha256, `files[${String(i)}].sha256`, SHA256_PATTERN, bad),
    };
  });
  const names = new Set(files.map((f) => f.name));
  if (names.size !== files.length) throw bad('files', 'must not list a file twice');

  const listed = (field: string, v: unknown): string => {
    const n = fileName(v, field, bad);
    if (!names.has(n)) throw bad(field, `must name a file listed in files (got ${n})`);
    return n;
  };
  const manifest: KernelManifest = {
    schema: MANIFEST_SCHEMA,
    name,
    kernelVersion,
    source,
    files,
    vmlinux: listed('vmlinux', obj.vmlinux),
    backends: parseBackends(obj.backends, bad),
    createdAt: parseDate(obj.createdAt, bad),
  };
  if (obj.initramfs !== undefined) manifest.initramfs = listed('initramfs', obj.initramfs);
  if (obj.config !== undefined) manifest.config = listed('config', obj.config);
  return manifest;
}

type Bad = (field: string, rule: string) => BangerError;

function record(value: unknown, field: string, bad: Bad): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    throw bad(field, 'must be an object');
  return value as Record<string, unknown>;
}

function allowKeys(
  obj: Record<string, unknown>,
  keys: readonly string[],
  field: string,
  bad: Bad,
): void {
  for (const key of Object.keys(obj)) {
    if (!keys.includes(key)) throw bad(`${field}.${key}`, 'is not a known field');
  }
}

function text(value: unknown, field: string, pattern: RegExp, bad: Bad): string {
  if (typeof value !== 'string' || !pattern.test(value))
    throw bad(field, `must match ${String(pattern)}`);
  return value;
}

function fileName(value: unknown, field: string, bad: Bad): string {
  const name = text(value, field, FILE_NAME_PATTERN, bad);
  if (name === MANIFEST_FILE) throw bad(field, `must not be ${MANIFEST_FILE}`);
  return name;
}

function parseSource(value: unknown, bad: Bad): KernelSourceInfo {
  const src = record(value, 'source', bad);
  switch (src.kind) {
    case 'debian':
      allowKeys(src, ['kind', 'package', 'packageVersion'], 'source', bad);
      return {
        kind: 'debian',
        package: text(src.package, 'source.package', PACKAGE_PATTERN, bad),
        packageVersion: text(
          src.packageVersion,
          'source.packageVersion',
          PACKAGE_VERSION_PATTERN,
          bad,
        ),
      };
    case 'import': {
      allowKeys(src, ['kind', 'from'], 'source', bad);
      const from = src.from;
      if (
        typeof from !== 'string' ||
        !from.startsWith('/') ||
        from.length > 4096 ||
        /[\0\n]/.test(from)
      ) {
        throw bad('source.from', 'must be an absolute path');
      }
      return { kind: 'import', from };
    }
    case 'build':
      allowKeys(src, ['kind', 'package', 'packageVersion', 'config'], 'source', bad);
      return {
        kind: 'build',
        package: text(src.package, 'source.package', PACKAGE_PATTERN, bad),
        packageVersion: text(
          src.packageVersion,
          'source.packageVersion',
          PACKAGE_VERSION_PATTERN,
          bad,
        ),
        config: text(src.config, 'source.config', CONFIG_NAME_PATTERN, bad),
      };
    case 'catalog':
      allowKeys(src, ['kind', 'catalog', 'entry', 'bundleSha256'], 'source', bad);
      if (typeof src.catalog !== 'string' || !/^https?:\/\/[^\s\0]{1,2000}$/.test(src.catalog)) {
        throw bad('source.catalog', 'must be an http(s) URL');
      }
      return {
        kind: 'catalog',
        catalog: src.catalog,
        entry: text(src.entry, 'source.entry', KERNEL_NAME_PATTERN, bad),
        bundleSha256: text(src.bundleSha256, 'source.bundleSha256', SHA256_PATTERN, bad),
      };
    default:
      throw bad('source.kind', 'must be "debian", "import" or "build"');
  }
}

function parseBackends(value: unknown, bad: Bad): VmmKind[] {
  if (!Array.isArray(value) || value.length === 0 || value.length > BACKENDS.length) {
    throw bad('backends', 'must be a non-empty list of qemu/firecracker');
  }
  const out: VmmKind[] = [];
  for (const b of value) {
    if (!BACKENDS.includes(b as VmmKind) || out.includes(b as VmmKind)) {
      throw bad('backends', 'must list qemu and/or firecracker, each once');
    }
    out.push(b as VmmKind);
  }
  if (!out.includes('qemu')) throw bad('backends', 'must include qemu');
  return out;
}

function parseDate(value: unknown, bad: Bad): string {
  if (typeof value !== 'string' || value.length > 40 || Number.isNaN(Date.parse(value))) {
    throw bad('createdAt', 'must be an ISO date');
  }
  return value;
}
