import { describe, expect, it } from 'vitest';
import { DEBIAN_BOOKWORM_PACKAGES } from './debian-bookworm-packages.js';
import { mmdebstrapPlan } from './mmdebstrap-plan.js';
import { formatIncludeList, lockFromPackages, parseLock } from './package-lock.js';

describe('formatIncludeList', () => {
  it('joins package names with commas, without duplicates', () => {
    expect(formatIncludeList(['git', 'curl', 'git'])).toBe('git,curl');
  });

  it('pins locked packages in place and appends locked dependencies', () => {
    const lock = parseLock(['git=1:2.39.5-0+deb12u2', 'libc6=2.36-9+deb12u10']);
    expect(formatIncludeList(['curl', 'git'], lock)).toBe(
      'curl,git=1:2.39.5-0+deb12u2,libc6=2.36-9+deb12u10',
    );
  });

  it('refuses a package name that could smuggle an option or a second list entry', () => {
    expect(() => formatIncludeList(['git,evil'])).toThrow(/invalid Debian package name/);
    expect(() => formatIncludeList(['--foo'])).toThrow(/invalid Debian package name/);
  });

  it('the pinned list holds what a sandbox and later features need, and is valid', () => {
    for (const needed of [
      'openssh-server',
      'git',
      'curl',
      'ca-certificates',
      'make',
      'procps',
      'iproute2',
      'less',
      'tar',
    ]) {
      expect(DEBIAN_BOOKWORM_PACKAGES).toContain(needed);
    }
    expect(DEBIAN_BOOKWORM_PACKAGES.some((p) => p === 'vim-tiny' || p === 'nano')).toBe(true);
    expect(() => formatIncludeList(DEBIAN_BOOKWORM_PACKAGES)).not.toThrow();
  });
});

describe('parseLock', () => {
  it('parses name=version entries, sorted and deduplicated', () => {
    expect(
      parseLock(['zlib1g=1:1.2.13.dfsg-1', 'git=1:2.39.5-0+deb12u2', 'git=1:2.39.5-0+deb12u2']),
    ).toEqual([
      { name: 'git', version: '1:2.39.5-0+deb12u2' },
      { name: 'zlib1g', version: '1:1.2.13.dfsg-1' },
    ]);
  });

  it.each(['git', 'git=', '=1.0', 'Git=1.0', 'git=1.0 ', 'git=1,0', 'git=1.0;rm', 'git=$(x)'])(
    'refuses %j',
    (entry) => {
      expect(() => parseLock([entry])).toThrow(/invalid lock entry/);
    },
  );

  it('refuses two versions of one package', () => {
    expect(() => parseLock(['git=1.0', 'git=2.0'])).toThrow(/pins git twice/);
  });

  it('round-trips through lockFromPackages', () => {
    const pins = [{ name: 'git', version: '1:2.39.5-0+deb12u2' }];
    expect(parseLock(lockFromPackages(pins))).toEqual(pins);
  });
});

describe('mmdebstrapPlan', () => {
  const plan = mmdebstrapPlan({
    suite: 'bookworm',
    target: '/s/root',
    packages: ['git', 'curl'],
    lock: [{ name: 'git', version: '1:2.39.5-0+deb12u2' }],
    mirror: 'http://deb.debian.org/debian',
    securityMirror: 'http://deb.debian.org/debian-security',
    scratchDir: '/s/tmp',
    sourceDateEpoch: 1700000000,
  });

  it('runs mmdebstrap in root mode inside private mount and pid namespaces that die with it', () => {
    expect(plan.file).toBe('unshare');
    const split = plan.argv.indexOf('mmdebstrap');
    expect(plan.argv.slice(0, split)).toEqual([
      '--mount',
      '--propagation',
      'private',
      '--pid',
      '--fork',
      '--kill-child=SIGKILL',
      '--mount-proc',
      '--',
    ]);
    expect(plan.argv).toContain('--mode=root');
    expect(plan.argv).toContain('--variant=minbase');
    expect(plan.argv).toContain('--include=git=1:2.39.5-0+deb12u2,curl');
  });

  it('ends with suite, target and the three archive lines', () => {
    expect(plan.argv.slice(-5)).toEqual([
      'bookworm',
      '/s/root',
      'deb http://deb.debian.org/debian bookworm main',
      'deb http://deb.debian.org/debian bookworm-updates main',
      'deb http://deb.debian.org/debian-security bookworm-security main',
    ]);
  });

  it('gives mmdebstrap its own TMPDIR and SOURCE_DATE_EPOCH', () => {
    expect(plan.env).toMatchObject({ TMPDIR: '/s/tmp', SOURCE_DATE_EPOCH: '1700000000' });
  });
});
