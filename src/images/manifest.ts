/**
 * manifest.json: what an image is and where it came from. Written by the store, read back
 * through `parseManifest`, which treats the file as hostile: every field is checked, file names
 * must be plain names, and only known fields are copied out.
 */
import { BangerError } from '../base/index.js';
import { GUEST_PROGRAMS } from '../config/index.js';
import { IMAGE_NAME_PATTERN } from './image-name.js';
import { PACKAGE_MANAGERS, type PackageManager, type Userland } from './userland.js';
import {
  DEBIAN_PACKAGE_NAME_PATTERN,
  DEBIAN_VERSION_PATTERN,
  type PackagePin,
} from './package-lock.js';

export const MANIFEST_FILE = 'manifest.json';
export const ROOTFS_FILE = 'rootfs.ext4';
export const MANIFEST_SCHEMA = 1;
/** A manifest is a few KiB; anything this large is not one of ours. */
export const MANIFEST_MAX_BYTES = 1024 * 1024;

export type GuestProgramName = (typeof GUEST_PROGRAMS)['init' | 'agent'];
export const GUEST_PROGRAM_NAMES: readonly GuestProgramName[] = [
  GUEST_PROGRAMS.init,
  GUEST_PROGRAMS.agent,
];

export interface DebianSource {
  kind: 'debian';
  suite: string;
  mirror: string;
  securityMirror: string;
  /** Every installed package and its version, read from the built tree's dpkg status. */
  packages: PackagePin[];
  /** SOURCE_DATE_EPOCH of the build: with `packages` as a lock, a rebuild reproduces the tree. */
  sourceDateEpoch: number;
  /** Whether the build honoured a lock (name=version pins). */
  locked: boolean;
}

export interface RegisterSource {
  kind: 'register';
  /** The user's file, as given (resolved); recorded only, never opened again. */
  from: string;
  /** When `image promote` made it a managed image (checked, host keys dropped, userland known). */
  promotedAt?: string;
}

/** What `vm run` may one day use as the default command; recorded, not acted on. */
export interface OciRuntimeConfig {
  entrypoint?: string[];
  cmd?: string[];
  env?: string[];
  workingDir?: string;
  user?: string;
}

export interface OciSource {
  kind: 'oci';
  /** The normalised reference pulled, e.g. docker.io/library/python:3.12. */
  ref: string;
  registry: string;
  repository: string;
  /** Digest of the linux/amd64 image manifest. */
  manifestDigest: string;
  configDigest: string;
  /** Layer blobs, base first (they stay in the blob cache until `image cache prune`). */
  layers: { digest: string; size: number }[];
  config: OciRuntimeConfig;
}

export interface CatalogSource {
  kind: 'catalog';
  /** The catalog index the entry came from. */
  catalog: string;
  /** The entry's name in that catalog. */
  entry: string;
  bundleUrl: string;
  bundleSha256: string;
  bundleSize: number;
}

export type ImageSource = DebianSource | RegisterSource | OciSource | CatalogSource;

export interface GuestProgramRecord {
  name: GuestProgramName;
  sha256: string;
}

export interface ImageManifest {
  schema: typeof MANIFEST_SCHEMA;
  name: string;
  format: 'raw';
  /** File name of the root filesystem inside the image directory (a plain name). */
  rootfs: string;
  sizeBytes: number;
  sha256: string;
  /** Name of the kernel (in the kernel store) this image boots with. */
  kernel: string;
  source: ImageSource;
  /** banger's guest programs as injected: where in the image, and what exactly. */
  guestPrograms: { dir: string; files: GuestProgramRecord[] };
  /**
   * 'absent': the image carries no ssh host keys, so each VM must generate its own at first
   * boot. 'present': a registered image brought its own (every VM would share them).
   */
  sshHostKeys: 'absent' | 'present';
  /** What the image's own userland offers (init, sshd, package manager), when known. */
  userland?: Userland;
  createdAt: string;
}

const SHA256_PATTERN = /^[0-9a-f]{64}$/;
const PLAIN_FILE_NAME = /^[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$/;
const GUEST_DIR_PATTERN = /^(?:\/[A-Za-z0-9_][A-Za-z0-9._-]*)+$/;
const ISO_DATE_PATTERN = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?Z$/;
const DIGEST = /^sha256:[0-9a-f]{64}$/;
const REF_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._:@\/[\]-]{0,600}$/;
const REGISTRY_PATTERN = /^[A-Za-z0-9[\]][A-Za-z0-9.:[\]-]{0,254}$/;
const REPOSITORY_PATTERN = /^[a-z0-9][a-z0-9._/-]{0,254}$/;

class Invalid extends Error {}

/**
 * Validates parsed JSON as the manifest of image `expectedName` and returns a fresh object holding
 * only the known fields. Throws `precondition_failed` naming the field and the rule.
 */
export function validateManifest(value: unknown, expectedName: string): ImageManifest {
  try {
    return checkManifest(value, expectedName);
  } catch (err) {
    if (!(err instanceof Invalid)) throw err;
    throw new BangerError(
      'precondition_failed',
      `image ${expectedName}: ${MANIFEST_FILE} is invalid: ${err.message}`,
      { hint: `remove the image (banger image rm ${expectedName}) and build or register it again` },
    );
  }
}

/** Parses manifest text (see `validateManifest`). */
export function parseManifest(text: string, expectedName: string): ImageManifest {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new BangerError(
      'precondition_failed',
      `image ${expectedName}: ${MANIFEST_FILE} is not valid JSON`,
      {
        cause: err,
        hint: `remove the image (banger image rm ${expectedName}) and build or register it again`,
      },
    );
  }
  return validateManifest(value, expectedName);
}

/** True for a name that can only mean a file directly inside a directory: no `/`, `.` or `..`. */
export function isPlainFileName(name: string): boolean {
  return PLAIN_FILE_NAME.test(name) && name !== '.' && name !== '..';
}

function checkManifest(value: unknown, expectedName: string): ImageManifest {
  const m = obj(value, 'the manifest');
  if (m.schema !== MANIFEST_SCHEMA) throw new Invalid(`schema must be ${String(MANIFEST_SCHEMA)}`);
  const name = str(m.name, 'name', IMAGE_NAME_PATTERN);
  if (name !== expectedName) {
    throw new Invalid(
      `name ${JSON.stringify(name)} does not match the image directory ${expectedName}`,
    );
  }
  if (m.format !== 'raw') throw new Invalid('format must be "raw"');
  const rootfs = str(m.rootfs, 'rootfs', PLAIN_FILE_NAME);
  if (!isPlainFileName(rootfs) || rootfs === MANIFEST_FILE) {
    throw new Invalid(`rootfs ${JSON.stringify(rootfs)} must be a plain file name`);
  }
  const sizeBytes = count(m.sizeBytes, 'sizeBytes');
  const sha256 = str(m.sha256, 'sha256', SHA256_PATTERN);
  const kernel = str(m.kernel, 'kernel', IMAGE_NAME_PATTERN);
  const source = checkSource(m.source);
  const guestPrograms = checkGuestPrograms(m.guestPrograms);
  if (m.sshHostKeys !== 'absent' && m.sshHostKeys !== 'present') {
    throw new Invalid('sshHostKeys must be "absent" or "present"');
  }
  const createdAt = str(m.createdAt, 'createdAt', ISO_DATE_PATTERN);
  if (Number.isNaN(Date.parse(createdAt))) throw new Invalid('createdAt must be an ISO 8601 date');
  const userland = m.userland === undefined ? undefined : checkUserland(m.userland);
  return {
    schema: MANIFEST_SCHEMA,
    name,
    format: 'raw',
    rootfs,
    sizeBytes,
    sha256,
    kernel,
    source,
    guestPrograms,
    sshHostKeys: m.sshHostKeys,
    ...(userland === undefined ? {} : { userland }),
    createdAt,
  };
}

function checkUserland(value: unknown): Userland {
  const u = obj(value, 'userland');
  if (typeof u.init !== 'boolean' || typeof u.sshd !== 'boolean') {
    throw new Invalid('userland.init and userland.sshd must be booleans');
  }
  const pm = u.packageManager;
  if (pm !== null && !(PACKAGE_MANAGERS as readonly unknown[]).includes(pm)) {
    throw new Invalid(
      `userland.packageManager must be null or one of ${PACKAGE_MANAGERS.join(', ')}`,
    );
  }
  return { init: u.init, sshd: u.sshd, packageManager: pm as PackageManager | null };
}

function strList(value: unknown, what: string, max: number): string[] {
  return arr(value, what)
    .map((v, i) => {
      if (typeof v !== 'string' || v.length > 65536) {
        throw new Invalid(`${what}[${String(i)}] must be a string of at most 65536 characters`);
      }
      return v;
    })
    .slice(0, max);
}

function checkOciConfig(value: unknown): OciRuntimeConfig {
  const c = obj(value, 'source.config');
  const out: OciRuntimeConfig = {};
  if (c.entrypoint !== undefined)
    out.entrypoint = strList(c.entrypoint, 'source.config.entrypoint', 1024);
  if (c.cmd !== undefined) out.cmd = strList(c.cmd, 'source.config.cmd', 1024);
  if (c.env !== undefined) out.env = strList(c.env, 'source.config.env', 1024);
  if (c.workingDir !== undefined)
    out.workingDir = str(c.workingDir, 'source.config.workingDir', /^[^\0]{1,4096}$/);
  if (c.user !== undefined) out.user = str(c.user, 'source.config.user', /^[^\0]{1,256}$/);
  return out;
}

function checkSource(value: unknown): ImageSource {
  const s = obj(value, 'source');
  switch (s.kind) {
    case 'debian': {
      const packages = arr(s.packages, 'source.packages').map((p, i): PackagePin => {
        const o = obj(p, `source.packages[${String(i)}]`);
        return {
          name: str(o.name, `source.packages[${String(i)}].name`, DEBIAN_PACKAGE_NAME_PATTERN),
          version: str(o.version, `source.packages[${String(i)}].version`, DEBIAN_VERSION_PATTERN),
        };
      });
      if (typeof s.locked !== 'boolean') throw new Invalid('source.locked must be a boolean');
      return {
        kind: 'debian',
        suite: str(s.suite, 'source.suite', /^[a-z][a-z0-9-]{0,31}$/),
        mirror: url(s.mirror, 'source.mirror'),
        securityMirror: url(s.securityMirror, 'source.securityMirror'),
        packages,
        sourceDateEpoch: count(s.sourceDateEpoch, 'source.sourceDateEpoch'),
        locked: s.locked,
      };
    }
    case 'register': {
      const from = str(s.from, 'source.from', /^\/[^\0]{0,4095}$/);
      if (s.promotedAt === undefined) return { kind: 'register', from };
      const promotedAt = str(s.promotedAt, 'source.promotedAt', ISO_DATE_PATTERN);
      return { kind: 'register', from, promotedAt };
    }
    case 'oci':
      return {
        kind: 'oci',
        ref: str(s.ref, 'source.ref', REF_PATTERN),
        registry: str(s.registry, 'source.registry', REGISTRY_PATTERN),
        repository: str(s.repository, 'source.repository', REPOSITORY_PATTERN),
        manifestDigest: str(s.manifestDigest, 'source.manifestDigest', DIGEST),
        configDigest: str(s.configDigest, 'source.configDigest', DIGEST),
        layers: arr(s.layers, 'source.layers').map((l, i) => {
          const o = obj(l, `source.layers[${String(i)}]`);
          return {
            digest: str(o.digest, `source.layers[${String(i)}].digest`, DIGEST),
            size: count(o.size, `source.layers[${String(i)}].size`),
          };
        }),
        config: checkOciConfig(s.config),
      };
    case 'catalog':
      return {
        kind: 'catalog',
        catalog: url(s.catalog, 'source.catalog'),
        entry: str(s.entry, 'source.entry', IMAGE_NAME_PATTERN),
        bundleUrl: url(s.bundleUrl, 'source.bundleUrl'),
        bundleSha256: str(s.bundleSha256, 'source.bundleSha256', SHA256_PATTERN),
        bundleSize: count(s.bundleSize, 'source.bundleSize'),
      };
    default:
      throw new Invalid('source.kind must be "debian", "register", "oci" or "catalog"');
  }
}

function checkGuestPrograms(value: unknown): ImageManifest['guestPrograms'] {
  const g = obj(value, 'guestPrograms');
  const dir = str(g.dir, 'guestPrograms.dir', GUEST_DIR_PATTERN);
  if (dir.split('/').some((part) => part === '.' || part === '..')) {
    throw new Invalid('guestPrograms.dir must not contain "." or ".." components');
  }
  const files = arr(g.files, 'guestPrograms.files').map((f, i): GuestProgramRecord => {
    const o = obj(f, `guestPrograms.files[${String(i)}]`);
    const name = o.name;
    if (typeof name !== 'string' || !(GUEST_PROGRAM_NAMES as readonly string[]).includes(name)) {
      throw new Invalid(
        `guestPrograms.files[${String(i)}].name must be one of ${GUEST_PROGRAM_NAMES.join(', ')}`,
      );
    }
    return {
      name: name as GuestProgramName,
      sha256: str(o.sha256, `guestPrograms.files[${String(i)}].sha256`, SHA256_PATTERN),
    };
  });
  return { dir, files };
}

function obj(value: unknown, what: string): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new Invalid(`${what} must be an object`);
  }
  return value as Record<string, unknown>;
}

function arr(value: unknown, what: string): unknown[] {
  if (!Array.isArray(value)) throw new Invalid(`${what} must be an array`);
  if (value.length > 10_000) throw new Invalid(`${what} has more than 10000 entries`);
  return value;
}

function str(value: unknown, what: string, pattern: RegExp): string {
  if (typeof value !== 'string') throw new Invalid(`${what} must be a string`);
  if (!pattern.test(value)) {
    const shown = value.length > 80 ? `${value.slice(0, 77)}...` : value;
    throw new Invalid(`${what} ${JSON.stringify(shown)} must match ${String(pattern)}`);
  }
  return value;
}

function count(value: unknown, what: string): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
    throw new Invalid(`${what} must be a non-negative integer`);
  }
  return value;
}

function url(value: unknown, what: string): string {
  const text = str(value, what, /^https?:\/\/[^\s\0]{1,1000}$/);
  try {
    new URL(text);
  } catch {
    throw new Invalid(`${what} must be an http(s) URL`);
  }
  return text;
}
