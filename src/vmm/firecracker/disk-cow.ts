/**
 * Copy-on-write root disks for Firecracker, which reads raw files only (no qcow2 overlays).
 * The strategy is chosen once per host by probing the directory VM disks live in:
 *  - reflink: `cp --reflink=always` works there (XFS, btrfs): a copy costs no space or time;
 *  - sparse-copy: anything else: `cp --sparse=always`, which skips the image's holes
 *    (~0.4 s for a 1 GiB image on our machines).
 * Device-mapper snapshots are detected and reported (doctor), but not used: a dm device must
 * be set up again on every start and torn down on every stop by the privileged side, which
 * banger does not do yet.
 */
import { constants as fsc, promises as fs } from 'node:fs';
import path from 'node:path';
import { BangerError, newId, run } from '../../base/index.js';

export type CowStrategy = 'reflink' | 'sparse-copy';

export interface CowChoice {
  strategy: CowStrategy;
  /** Why this one: what the probe found. */
  reason: string;
  /** Whether device-mapper is usable here (/dev/mapper/control answers). */
  deviceMapper: boolean;
}

export interface CowProbeOptions {
  /** The directory VM disks are created in (the probe writes two tiny files there). */
  dir: string;
  /** Default /dev/mapper/control. */
  dmControl?: string;
  cpBinary?: string;
  signal?: AbortSignal;
}

/** Probes `dir` for the cheapest way to copy a disk image. */
export async function chooseCowStrategy(options: CowProbeOptions): Promise<CowChoice> {
  const dm = await deviceMapperUsable(options.dmControl ?? '/dev/mapper/control');
  const dmNote = dm ? 'device-mapper is available but not used' : 'no device-mapper';
  await fs.mkdir(options.dir, { recursive: true, mode: 0o700 });
  const probe = path.join(options.dir, `.cow-probe-${newId()}`);
  const copy = `${probe}.copy`;
  try {
    await fs.writeFile(probe, 'banger reflink probe\n', { mode: 0o600, flag: 'wx' });
    try {
      await run(options.cpBinary ?? 'cp', ['--reflink=always', '--', probe, copy], {
        timeoutMs: 10_000,
        ...(options.signal ? { signal: options.signal } : {}),
      });
      return {
        strategy: 'reflink',
        reason: `${options.dir} supports reflinks; ${dmNote}`,
        deviceMapper: dm,
      };
    } catch {
      return {
        strategy: 'sparse-copy',
        reason: `${options.dir} has no reflinks (cp --reflink=always failed); ${dmNote}`,
        deviceMapper: dm,
      };
    }
  } finally {
    await fs.rm(probe, { force: true });
    await fs.rm(copy, { force: true });
  }
}

async function deviceMapperUsable(control: string): Promise<boolean> {
  try {
    const handle = await fs.open(control, fsc.O_RDWR);
    await handle.close();
    return true;
  } catch {
    return false;
  }
}

/**
 * Makes `dest` a private (0600) raw copy of `base` with `strategy`. `dest` must not exist;
 * on failure nothing is left at `dest`.
 */
export async function createCowDisk(options: {
  base: string;
  dest: string;
  strategy: CowStrategy;
  cpBinary?: string;
  signal?: AbortSignal;
}): Promise<void> {
  const st = await fs.stat(options.base).catch(() => undefined);
  if (!st?.isFile()) throw new BangerError('not_found', `base image ${options.base} is not a file`);
  if (await fs.lstat(options.dest).catch(() => undefined)) {
    throw new BangerError('already_exists', `root disk ${options.dest} already exists`);
  }
  const mode = options.strategy === 'reflink' ? '--reflink=always' : '--sparse=always';
  // Copy under a temporary name so a half-written disk never carries the real one's name.
  const tmp = path.join(
    path.dirname(options.dest),
    `.${path.basename(options.dest)}.${newId()}.tmp`,
  );
  try {
    await run(options.cpBinary ?? 'cp', [mode, '--no-preserve=all', '--', options.base, tmp], {
      timeoutMs: 30 * 60_000,
      ...(options.signal ? { signal: options.signal } : {}),
    });
    await fs.chmod(tmp, 0o600);
    await fs.link(tmp, options.dest);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') {
      throw new BangerError('already_exists', `root disk ${options.dest} already exists`);
    }
    throw err;
  } finally {
    await fs.rm(tmp, { force: true });
  }
}
