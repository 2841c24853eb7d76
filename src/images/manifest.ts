/**
 * manifest.json: what an image is and where it came from. Written by the store, read back
 * through `parseManifest`, which treats the file as hostile: every field is checked, file names
 * must be plain names, and only known fields are copied out.
 */
import { BangerError } from '../base/index.js';
import { GUEST_PROGRAMS } from '../config/index.js';
import { IMAGE_NAME_PATTERN } from './image-name.js';
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
}

export type ImageSource = DebianSource | RegisterSource;

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
  createdAt: string;
}

const SHA256_PATTERN = /^[0-9a-f]{64}$/;
const PLAIN_FILE_NAME = /^[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$/;
const GUEST_DIR_PATTERN = /^(?:\/[A-Za-z0-9_][A-Za-z0-9._-]*)+$/;
const ISO_DATE_PATTERN = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?Z$/;

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
    createdAt,
  };
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
      return { kind: 'register', from };
    }
    default:
      throw new Invalid('source.kind must be "debian" or "register"');
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
