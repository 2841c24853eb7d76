/**
 * Builds a Firecracker-compatible vmlinux from Debian's kernel source package with
 * Firecracker's own guest config (vendored): apt-get download linux-source-6.1 (cached),
 * unpack it in a scratch dir (never installed on the host), untar, apply the config,
 * `make olddefconfig`, `make -jN vmlinux` with progress, strip the symbols. Everything is
 * built in, so the result needs no initramfs, and QEMU boots the same file through PVH.
 * A finished build is kept in the cache keyed by source version and config, so building it
 * again (another name, another home on this machine) takes seconds, not ten minutes.
 */
import { constants as fsc, promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  BangerError,
  newId,
  removeIfExists,
  run,
  sha256File,
  type ProgressSink,
} from '../base/index.js';
import { candidates, fetchDeb } from './debian-packages.js';
import { checkElfFile } from './extract-vmlinux.js';
import { bootableBackends, firecrackerKernelProblems, parseKernelConfig } from './kernel-config.js';
import { detectKernelVersion } from './kernel-version.js';
import type { BuiltKernel } from './manifest.js';

export const KERNEL_SOURCE_PACKAGE = 'linux-source-6.1';
/** Names the config in manifests and cache keys. */
export const FIRECRACKER_CONFIG_NAME = 'firecracker-x86_64-6.1';
/** Bump when the build steps change what they produce: old cache entries are then ignored. */
const BUILDER_REVISION = 1;
/** Roughly how many kbuild steps (CC, LD, AR...) `make vmlinux` runs with this config (measured). */
export const EXPECTED_BUILD_STEPS = 2900;

/** What the build needs on the host, and the Debian package that provides it. */
export const BUILD_DEPENDENCIES: readonly {
  pkg: string;
  programs?: readonly string[];
  files?: readonly string[];
}[] = [
  { pkg: 'build-essential', programs: ['gcc', 'make', 'ld'] },
  { pkg: 'bison', programs: ['bison'] },
  { pkg: 'flex', programs: ['flex'] },
  { pkg: 'bc', programs: ['bc'] },
  { pkg: 'dwarves', programs: ['pahole'] },
  { pkg: 'libelf-dev', files: ['/usr/include/libelf.h', '/usr/include/gelf.h'] },
  { pkg: 'libssl-dev', files: ['/usr/include/openssl/opensslv.h'] },
  { pkg: 'xz-utils', programs: ['xz'] },
  { pkg: 'dpkg', programs: ['dpkg-deb'] },
  { pkg: 'apt', programs: ['apt-get', 'apt-cache'] },
  { pkg: 'binutils', programs: ['strip'] },
];

export interface BuildKernelOptions {
  stage: string;
  /** Scratch space (the source tree and objects: about 2 GiB while building). */
  scratchParent: string;
  debCacheDir: string;
  /** Finished builds by source version + config (cacheDir/kernel-builds). */
  buildCacheDir: string;
  /** The kernel config to build with (the vendored Firecracker config). */
  configFile: string;
  configName?: string;
  /** Parallel make jobs (default: one per CPU). */
  jobs?: number | undefined;
  progress: ProgressSink;
  signal?: AbortSignal | undefined;
  /** PATH to look for build tools in (default process.env.PATH). */
  searchPath?: string;
}

/** Debian packages whose tools or headers are missing here (empty: the build can run). */
export async function missingBuildDependencies(
  searchPath = process.env.PATH ?? '',
): Promise<string[]> {
  const dirs = searchPath.split(':').filter((d) => d.startsWith('/'));
  const hasProgram = async (name: string): Promise<boolean> => {
    for (const dir of dirs) {
      try {
        await fs.access(path.join(dir, name), fsc.X_OK);
        return true;
      } catch {
        /* try the next directory */
      }
    }
    return false;
  };
  const missing: string[] = [];
  for (const dep of BUILD_DEPENDENCIES) {
    let ok = true;
    for (const p of dep.programs ?? []) if (!(await hasProgram(p))) ok = false;
    for (const f of dep.files ?? [])
      if (!(await fs.stat(f).catch(() => undefined))?.isFile()) ok = false;
    if (!ok) missing.push(dep.pkg);
  }
  return missing;
}

export async function buildFirecrackerKernel(options: BuildKernelOptions): Promise<BuiltKernel> {
  const { progress, signal } = options;
  const configName = options.configName ?? FIRECRACKER_CONFIG_NAME;
  const configText = await fs.readFile(options.configFile, 'utf8').catch((err: unknown) => {
    throw new BangerError(
      'not_found',
      `kernel config ${options.configFile} cannot be read: ${String(err)}`,
    );
  });
  // Refuse a config that could not boot under Firecracker before ten minutes of compiling.
  const upfront = firecrackerKernelProblems(parseKernelConfig(configText));
  if (upfront.length > 0) {
    throw new BangerError(
      'bad_request',
      `kernel config ${options.configFile} cannot boot under firecracker: ${upfront.join('; ')}`,
    );
  }

  progress({ step: 'check', message: 'checking build dependencies' });
  const missing = await missingBuildDependencies(options.searchPath);
  if (missing.length > 0) {
    throw new BangerError(
      'precondition_failed',
      `building a kernel needs Debian packages that are not installed: ${missing.join(', ')}`,
      { hint: `apt-get install ${missing.join(' ')}` },
    );
  }
  progress({ step: 'resolve', message: `resolving ${KERNEL_SOURCE_PACKAGE}` });
  const [pkg] = await candidates([KERNEL_SOURCE_PACKAGE], signal);
  if (pkg === undefined) throw new BangerError('internal', 'apt-cache lost a package');
  const key = `${pkg.version.replaceAll(':', '%3a')}-${(await sha256File(options.configFile)).slice(0, 16)}-r${String(BUILDER_REVISION)}`;
  const cached = path.join(options.buildCacheDir, key);
  const source = {
    kind: 'build' as const,
    package: pkg.name,
    packageVersion: pkg.version,
    config: configName,
  };

  if (await usableBuild(cached)) {
    progress({
      step: 'cache',
      message: `using the cached build of ${pkg.name} ${pkg.version} (${cached})`,
    });
    return finish(cached, options.stage, source);
  }

  progress({ step: 'download', message: `downloading ${pkg.name} ${pkg.version}` });
  const deb = await fetchDeb(pkg, { cacheDir: options.debCacheDir, signal });
  const scratch = await fs.mkdtemp(path.join(options.scratchParent, 'kernel-build-'));
  try {
    progress({ step: 'unpack', message: `unpacking ${path.basename(deb.path)}` });
    const unpacked = path.join(scratch, 'deb');
    await run('dpkg-deb', ['-x', deb.path, unpacked], sig(signal));
    const srcDir = path.join(unpacked, 'usr', 'src');
    const tarball = (await fs.readdir(srcDir)).find((f) =>
      /^linux-source-[0-9.]+\.tar\.(xz|bz2|gz)$/.test(f),
    );
    if (tarball === undefined) {
      throw new BangerError(
        'operation_failed',
        `${pkg.name} holds no linux-source tarball in /usr/src`,
      );
    }
    progress({ step: 'untar', message: `extracting ${tarball}` });
    const tree = path.join(scratch, 'tree');
    await fs.mkdir(tree);
    await run('tar', ['-xf', path.join(srcDir, tarball), '-C', tree, '--no-same-owner'], {
      ...sig(signal),
      timeoutMs: 30 * 60_000,
    });
    // The tarball has one top-level directory (linux-source-6.1).
    const top = (await fs.readdir(tree)).filter((f) => f.startsWith('linux-source-'));
    if (top.length !== 1 || top[0] === undefined)
      throw new BangerError(
        'operation_failed',
        `${tarball} does not hold one linux-source-* directory`,
      );
    const src = path.join(tree, top[0]);
    // Debian's tree is unpacked after we removed the .deb's tarball: reclaim its space early.
    await removeIfExists(unpacked);

    const env = {
      ...process.env,
      LC_ALL: 'C',
      // Fixed build identity: the banner says who built it, not which scratch dir.
      KBUILD_BUILD_USER: 'banger',
      KBUILD_BUILD_HOST: 'banger',
    };
    progress({ step: 'configure', message: `applying ${configName} (make olddefconfig)` });
    await fs.copyFile(options.configFile, path.join(src, '.config'));
    await run('make', ['-C', src, 'olddefconfig'], { ...sig(signal), env, timeoutMs: 10 * 60_000 });
    const finalConfig = await fs.readFile(path.join(src, '.config'), 'utf8');
    const problems = firecrackerKernelProblems(parseKernelConfig(finalConfig));
    if (problems.length > 0) {
      throw new BangerError(
        'operation_failed',
        `after make olddefconfig the config cannot boot under firecracker: ${problems.join('; ')}`,
      );
    }

    const jobs = options.jobs ?? os.availableParallelism();
    progress({
      step: 'compile',
      message: `make -j${String(jobs)} vmlinux (about 9 minutes on 2 cores)`,
      fraction: 0,
    });
    const counter = buildCounter(progress);
    await run('make', ['-C', src, `-j${String(jobs)}`, 'vmlinux'], {
      ...sig(signal),
      env,
      timeoutMs: 4 * 60 * 60_000,
      maxStdoutBytes: 1024 * 1024,
      onStdout: counter,
    });
    progress({ step: 'compile', message: 'make vmlinux finished', fraction: 1 });

    progress({ step: 'strip', message: 'stripping symbols from vmlinux' });
    const built = path.join(scratch, 'vmlinux');
    await run('strip', ['--strip-all', '-o', built, path.join(src, 'vmlinux')], sig(signal));
    const why = await checkElfFile(built);
    if (why !== undefined)
      throw new BangerError('operation_failed', `the built vmlinux is not bootable: ${why}`);
    const release = (
      await run('make', ['-C', src, '-s', 'kernelrelease'], { ...sig(signal), env })
    ).stdout
      .toString('utf8')
      .trim();

    // Publish to the cache first (atomically), then install from it.
    await fs.mkdir(options.buildCacheDir, { recursive: true, mode: 0o700 });
    const tmp = `${cached}.tmp-${newId()}`;
    await fs.mkdir(tmp, { mode: 0o700 });
    try {
      await fs.rename(built, path.join(tmp, 'vmlinux'));
      await fs.writeFile(path.join(tmp, 'config'), finalConfig, { mode: 0o644 });
      const vmlinuxSize = (await fs.stat(path.join(tmp, 'vmlinux'))).size;
      await fs.writeFile(
        path.join(tmp, 'build.json'),
        `${JSON.stringify({ release, package: pkg.name, packageVersion: pkg.version, config: configName, vmlinuxSize }, null, 2)}\n`,
        { mode: 0o644 },
      );
      await removeIfExists(cached);
      await fs.rename(tmp, cached);
    } finally {
      await removeIfExists(tmp);
    }
    return await finish(cached, options.stage, source);
  } finally {
    progress({ step: 'cleanup', message: 'removing the build tree' });
    await removeIfExists(scratch);
  }
}

/** Copies a cached build into the stage and describes it. */
async function finish(
  cached: string,
  stage: string,
  source: Extract<BuiltKernel['source'], { kind: 'build' }>,
): Promise<BuiltKernel> {
  await fs.copyFile(
    path.join(cached, 'vmlinux'),
    path.join(stage, 'vmlinux'),
    fsc.COPYFILE_FICLONE,
  );
  await fs.copyFile(path.join(cached, 'config'), path.join(stage, 'config'), fsc.COPYFILE_FICLONE);
  await fs.chmod(path.join(stage, 'vmlinux'), 0o644);
  await fs.chmod(path.join(stage, 'config'), 0o644);
  const meta = JSON.parse(await fs.readFile(path.join(cached, 'build.json'), 'utf8')) as {
    release?: unknown;
  };
  const head = await readHead(path.join(stage, 'vmlinux'));
  const release =
    typeof meta.release === 'string' && /^[0-9][A-Za-z0-9.+~_-]{0,127}$/.test(meta.release)
      ? meta.release
      : (detectKernelVersion(head) ?? 'unknown');
  return {
    kernelVersion: release,
    source,
    vmlinux: 'vmlinux',
    config: 'config',
    backends: bootableBackends(
      parseKernelConfig(await fs.readFile(path.join(stage, 'config'), 'utf8')),
    ),
  };
}

/** A cache entry counts only when complete: its vmlinux is a whole ELF of the recorded size. */
async function usableBuild(dir: string): Promise<boolean> {
  try {
    const meta = JSON.parse(await fs.readFile(path.join(dir, 'build.json'), 'utf8')) as {
      vmlinuxSize?: unknown;
    };
    const st = await fs.stat(path.join(dir, 'vmlinux'));
    if (st.size !== meta.vmlinuxSize || !(await fs.stat(path.join(dir, 'config'))).isFile())
      return false;
    return (await checkElfFile(path.join(dir, 'vmlinux'))) === undefined;
  } catch {
    return false;
  }
}

async function readHead(file: string): Promise<Buffer> {
  const handle = await fs.open(file, 'r');
  try {
    const buf = Buffer.alloc(Math.min((await handle.stat()).size, 64 * 1024 * 1024));
    await handle.read(buf, 0, buf.length, 0);
    return buf;
  } finally {
    await handle.close();
  }
}

/**
 * Turns kbuild's "  CC      kernel/fork.o" lines into progress: a step count against the
 * measured total (a fraction, capped below 1 until make ends), at most one event a second.
 */
export function buildCounter(
  progress: ProgressSink,
  now: () => number = Date.now,
): (chunk: Buffer) => void {
  let steps = 0;
  let partial = '';
  let last = 0;
  return (chunk) => {
    const lines = (partial + chunk.toString('utf8')).split('\n');
    partial = lines.pop() ?? '';
    let current: string | undefined;
    for (const line of lines) {
      const m = /^ {2}([A-Z][A-Z0-9_]{1,11}) +(\S+)/.exec(line);
      if (m?.[2] === undefined) continue;
      steps++;
      current = m[2];
    }
    if (current === undefined || now() - last < 1000) return;
    last = now();
    progress({
      step: 'compile',
      message: `compiling: ${String(steps)} step${steps === 1 ? '' : 's'} done (${current})`,
      fraction: Math.min(0.99, steps / EXPECTED_BUILD_STEPS),
    });
  };
}

function sig(signal: AbortSignal | undefined): { signal?: AbortSignal } {
  return signal ? { signal } : {};
}
