/**
 * Fetching Debian packages without installing them: resolve a metapackage with apt-cache,
 * download the candidate .deb with apt-get (into a cache keyed by package version, checked
 * against the archive's sha256), never dpkg -i.
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { BangerError, ensurePrivateDir, removeIfExists, run, sha256File } from '../base/index.js';

export interface DebPackage {
  name: string;
  version: string;
  /** sha256 of the .deb as the archive index states it. */
  sha256: string | undefined;
}

const PACKAGE_PATTERN = /^[a-z0-9][a-z0-9+.-]{1,127}$/;
const VERSION_PATTERN = /^[A-Za-z0-9][A-Za-z0-9.+~:-]{0,127}$/;
const APT_HINT =
  'check that apt works on this host (`apt-get update`) and that Debian repositories are reachable';

/** As root, apt-get download would hand the download to the _apt user, which cannot write our private dir. */
function aptOptions(): string[] {
  return process.getuid?.() === 0 ? ['-o', 'APT::Sandbox::User=root'] : [];
}

/** The package a metapackage depends on, e.g. linux-image-cloud-amd64 -> linux-image-6.1.0-56-cloud-amd64. */
export async function resolveDependency(options: {
  meta: string;
  prefix: string;
  signal?: AbortSignal | undefined;
}): Promise<string> {
  const out = await aptRun('apt-cache', ['depends', options.meta], options.signal);
  const found = parseDependsOutput(out, options.meta, options.prefix);
  if (found === undefined) {
    throw new BangerError(
      'operation_failed',
      `apt-cache depends ${options.meta} names no ${options.prefix}* package`,
      {
        hint: APT_HINT,
      },
    );
  }
  return found;
}

/** First "Depends:" of `meta` starting with `prefix` (pure, for tests). */
export function parseDependsOutput(out: string, meta: string, prefix: string): string | undefined {
  for (const line of out.split('\n')) {
    const m = /^\s*\|?Depends:\s*(\S+)\s*$/.exec(line);
    const dep = m?.[1];
    if (dep !== undefined && dep !== meta && dep.startsWith(prefix) && PACKAGE_PATTERN.test(dep))
      return dep;
  }
  return undefined;
}

/** The candidate versions of `names` (what apt-get download would fetch), in one apt-cache call. */
export async function candidates(
  names: readonly string[],
  signal?: AbortSignal,
): Promise<DebPackage[]> {
  for (const name of names) {
    if (!PACKAGE_PATTERN.test(name))
      throw new BangerError('bad_request', `package name ${name} is not a Debian package name`);
  }
  const out = await aptRun('apt-cache', ['show', '--no-all-versions', ...names], signal);
  const found = parseShowOutput(out);
  return names.map((name) => {
    const pkg = found.find((p) => p.name === name);
    if (pkg === undefined) {
      throw new BangerError('operation_failed', `apt-cache show ${name} gave no usable Version`, {
        hint: APT_HINT,
      });
    }
    return pkg;
  });
}

/** Package, Version and SHA256 of each stanza of `apt-cache show` (pure, for tests). */
export function parseShowOutput(out: string): DebPackage[] {
  const pkgs: DebPackage[] = [];
  for (const stanza of out.split(/\n\s*\n/)) {
    const field = (key: string): string | undefined =>
      new RegExp(`^${key}:[ \\t]*(\\S+)[ \\t]*$`, 'm').exec(stanza)?.[1];
    const name = field('Package');
    const version = field('Version');
    const sha = field('SHA256');
    if (name === undefined || !PACKAGE_PATTERN.test(name)) continue;
    if (version === undefined || !VERSION_PATTERN.test(version)) continue;
    if (pkgs.some((p) => p.name === name)) continue;
    pkgs.push({
      name,
      version,
      sha256: sha !== undefined && /^[0-9a-f]{64}$/.test(sha) ? sha : undefined,
    });
  }
  return pkgs;
}

/**
 * Path of `pkg`'s .deb in `cacheDir`, downloading it first when the cache lacks it (or holds
 * a file whose sha256 does not match the archive's).
 */
export async function fetchDeb(
  pkg: DebPackage,
  options: { cacheDir: string; signal?: AbortSignal | undefined },
): Promise<{ path: string; cached: boolean }> {
  await ensurePrivateDir(options.cacheDir);
  const dest = path.join(options.cacheDir, `${pkg.name}_${pkg.version.replaceAll(':', '%3a')}.deb`);
  if (await matches(dest, pkg.sha256)) return { path: dest, cached: true };
  const scratch = await fs.mkdtemp(path.join(options.cacheDir, '.download-'));
  try {
    await aptRun(
      'apt-get',
      [...aptOptions(), 'download', `${pkg.name}=${pkg.version}`],
      options.signal,
      scratch,
    );
    const debs = (await fs.readdir(scratch)).filter((f) => f.endsWith('.deb'));
    const only = debs[0];
    if (debs.length !== 1 || only === undefined) {
      throw new BangerError(
        'operation_failed',
        `apt-get download ${pkg.name} left ${String(debs.length)} .deb files`,
      );
    }
    const got = path.join(scratch, only);
    if (!(await matches(got, pkg.sha256))) {
      throw new BangerError(
        'operation_failed',
        `${pkg.name} ${pkg.version}: the download does not match the archive's sha256`,
        {
          hint: APT_HINT,
        },
      );
    }
    await fs.rename(got, dest);
    return { path: dest, cached: false };
  } finally {
    await removeIfExists(scratch);
  }
}

async function matches(file: string, sha256: string | undefined): Promise<boolean> {
  try {
    const st = await fs.lstat(file);
    if (!st.isFile()) return false;
  } catch {
    return false;
  }
  return sha256 === undefined || (await sha256File(file)) === sha256;
}

async function aptRun(
  file: string,
  argv: string[],
  signal: AbortSignal | undefined,
  cwd?: string,
): Promise<string> {
  try {
    const result = await run(file, argv, {
      ...(signal ? { signal } : {}),
      ...(cwd ? { cwd } : {}),
      env: { ...process.env, LC_ALL: 'C' },
      timeoutMs: 10 * 60_000,
    });
    return result.stdout.toString('utf8');
  } catch (err) {
    if (err instanceof BangerError && err.code === 'operation_failed') {
      throw new BangerError(err.code, err.message, {
        hint: APT_HINT,
        details: err.details,
        cause: err,
      });
    }
    throw err;
  }
}
