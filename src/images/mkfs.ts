import { run } from '../base/index.js';

export interface MkfsInput {
  /** Tree copied into the new filesystem (mke2fs -d): no mount, no loop device. */
  sourceDir: string;
  image: string;
  sizeBytes: number;
  label: string;
  uuid: string;
  /** Seed for directory hashes; fixed per image name so rebuilds are comparable. */
  hashSeed: string;
  /** Timestamps mke2fs writes itself (superblock, inode creation times). */
  sourceDateEpoch: number;
  /** Inode count (-N) when the tree needs more than mke2fs's default ratio gives. */
  inodes?: number;
  signal?: AbortSignal;
}

/** mkfs.ext4 argv for an image file (pure, for tests). */
export function mkfsArgv(input: MkfsInput): string[] {
  return [
    '-q',
    '-F',
    '-d',
    input.sourceDir,
    '-L',
    input.label,
    '-U',
    input.uuid,
    // Files in the tree are root's already; root_owner makes the top directory root's too.
    '-E',
    `root_owner=0:0,hash_seed=${input.hashSeed}`,
    // No reserved blocks: everything in a sandbox runs as root anyway.
    '-m',
    '0',
    ...(input.inodes === undefined ? [] : ['-N', String(input.inodes)]),
    '--',
    input.image,
    `${String(Math.ceil(input.sizeBytes / 1024))}k`,
  ];
}

/** Creates a sparse raw ext4 image holding `sourceDir`. */
export async function mkfsExt4(input: MkfsInput): Promise<void> {
  await run('mkfs.ext4', mkfsArgv(input), {
    env: { ...process.env, E2FSPROGS_FAKE_TIME: String(input.sourceDateEpoch) },
    ...(input.signal === undefined ? {} : { signal: input.signal }),
  });
}
