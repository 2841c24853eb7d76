/**
 * The KVM probe for real: on our build machines /dev/kvm is a paravirtual kvm-pvm on which
 * real kernels crawl and die (HOST-NOTES), so the verdict must be tcg, with a reason, and
 * cached. The same probe boot under TCG must see its marker: that proves the probe's own
 * initramfs and ELF init work, so a tcg verdict here means "KVM failed", not "probe broken".
 * Needs qemu-system-x86_64 and the apt tools; under CI=true their absence fails.
 */
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { run } from '../../src/base/index.js';
import { KernelStore } from '../../src/kernels/index.js';
import { hostTscKhz, probeKvm, PROBE_MARKER } from '../../src/vmm/index.js';
import { probeBoot } from '../../src/vmm/kvm-probe.js';
import { probeInitElf } from '../../src/vmm/probe-init-elf.js';

const TOOLS = ['qemu-system-x86_64', 'apt-get', 'apt-cache', 'dpkg-deb', 'depmod', 'lz4'];
const missing: string[] = [];
for (const tool of TOOLS) {
  if (
    !(await run('which', [tool]).then(
      () => true,
      () => false,
    ))
  )
    missing.push(tool);
}
if (missing.length > 0 && process.env.CI === 'true') {
  throw new Error(`kvm probe integration test needs ${missing.join(', ')} (CI=true: not skipping)`);
}

describe.skipIf(missing.length > 0)('probeKvm on this host', () => {
  let root: string;
  let vmlinux: string;
  let sha: string;

  beforeAll(async () => {
    root = await fs.mkdtemp(path.join(os.tmpdir(), 'banger-probe-'));
    const store = new KernelStore({
      kernelsDir: path.join(root, 'kernels'),
      tmpDir: path.join(root, 'tmp'),
      cacheDir: path.join(root, 'cache'),
    });
    const manifest = await store.pullDebian('debian');
    vmlinux = (await store.paths('debian')).vmlinux;
    sha = manifest.files.find((f) => f.name === 'vmlinux')!.sha256;
  });

  afterAll(async () => {
    if (root) await fs.rm(root, { recursive: true, force: true });
  });

  it('runs the probe init ELF: it prints the marker and exits 0 (no other system call)', async () => {
    const elf = path.join(root, 'probe-init');
    await fs.writeFile(elf, probeInitElf(PROBE_MARKER), { mode: 0o755 });
    const result = await run(elf, []);
    expect(result.stdout.toString()).toBe(`${PROBE_MARKER}\n`);
    expect(result.code).toBe(0);
  });

  it('sees the marker when the probe boots under TCG (the probe itself works)', async () => {
    const result = await probeBoot({
      kernel: vmlinux,
      accel: 'tcg',
      tscKhz: (await hostTscKhz())!,
      timeoutMs: 60_000,
    });
    expect(result.sawMarker).toBe(true);
    console.info(`TCG probe boot reached init in ${String(result.elapsedMs)} ms`);
  });

  it('decides tcg here, says why, and caches the verdict by qemu, kernel and host kernel', async () => {
    const cacheFile = path.join(root, 'cache', 'host-probe.json');
    await fs.mkdir(path.dirname(cacheFile), { recursive: true });
    await fs.writeFile(cacheFile, JSON.stringify({ other: { kept: true } }));
    const t0 = Date.now();
    const verdict = await probeKvm({ kernel: vmlinux, cacheFile });
    const ms = Date.now() - t0;
    console.info(`KVM probe: ${verdict.accel} in ${String(ms)} ms: ${verdict.reason}`);
    expect(verdict.accel).toBe('tcg');
    expect(verdict.cached).toBe(false);
    expect(verdict.reason.length).toBeGreaterThan(5);
    expect(verdict.key).toContain(`kernel=${sha}`);
    expect(verdict.key).toContain(`host=${os.release()}`);

    const again = await probeKvm({ kernel: vmlinux, kernelSha256: sha, cacheFile });
    expect(again).toEqual({ ...verdict, cached: true });
    const file = JSON.parse(await fs.readFile(cacheFile, 'utf8')) as Record<string, unknown>;
    expect(file.other).toEqual({ kept: true });
    expect(Object.keys(file.kvm as object)).toEqual([verdict.key]);
  });

  it('answers tcg at once without /dev/kvm', async () => {
    const cacheFile = path.join(root, 'cache', 'no-kvm.json');
    const verdict = await probeKvm({
      kernel: vmlinux,
      cacheFile,
      kvmDevice: path.join(root, 'no-kvm'),
      force: true,
    });
    expect(verdict).toMatchObject({
      accel: 'tcg',
      reason: `no ${path.join(root, 'no-kvm')}`,
      elapsedMs: 0,
    });
  });
});
