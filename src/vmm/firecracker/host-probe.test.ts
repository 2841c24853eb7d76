import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  firecrackerDoctorChecks,
  firecrackerHostInfo,
  probeFirecrackerHost,
} from './host-probe.js';

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'bgp-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('probeFirecrackerHost', () => {
  it('says firecracker is missing, and doctor says QEMU is used', async () => {
    const probe = await probeFirecrackerHost({ searchPath: dir, kvmDevice: path.join(dir, 'kvm') });
    expect(probe.binary).toBeUndefined();
    expect(probe.problems).toEqual([
      'the firecracker binary is not installed (not on PATH)',
      `${path.join(dir, 'kvm')} is missing or cannot be opened read-write`,
    ]);
    expect(firecrackerDoctorChecks(probe)).toEqual([
      expect.objectContaining({
        name: 'firecracker',
        status: 'warn',
        detail: 'not installed: VMs use QEMU',
      }),
    ]);
    expect(
      firecrackerHostInfo(probe, { chrootBaseDir: '/j', uid: 1, gid: 1, useJailer: true }),
    ).toBeUndefined();
  });

  it('finds a binary on PATH, reads its version, and jails it when asked and installed', async () => {
    const bin = path.join(dir, 'bin');
    mkdirSync(bin);
    // A stand-in that prints what `firecracker --version` prints (node, not a shell).
    writeFileSync(
      path.join(bin, 'firecracker'),
      `#!${process.execPath}\nprocess.stdout.write('Firecracker v1.7.0\\n\\nSupported snapshot versions: v4.0.0\\n');\n`,
    );
    chmodSync(path.join(bin, 'firecracker'), 0o755);
    writeFileSync(path.join(bin, 'jailer'), '');
    chmodSync(path.join(bin, 'jailer'), 0o755);
    writeFileSync(path.join(dir, 'kvm'), '');
    const probe = await probeFirecrackerHost({ searchPath: bin, kvmDevice: path.join(dir, 'kvm') });
    expect(probe).toMatchObject({
      binary: path.join(bin, 'firecracker'),
      version: '1.7.0',
      jailer: path.join(bin, 'jailer'),
      kvmDevice: true,
      problems: [],
    });
    const rows = firecrackerDoctorChecks(probe, { kvmVerdict: { accel: 'tcg', reason: 'crawls' } });
    expect(rows.map((r) => `${r.status} ${r.name}`)).toEqual([
      'warn firecracker',
      'pass jailer',
      'warn firecracker kvm',
    ]);
    expect(rows[0]?.detail).toContain('before 1.8');
    expect(
      firecrackerHostInfo(probe, { chrootBaseDir: '/j', uid: 7, gid: 8, useJailer: true }),
    ).toMatchObject({
      firecrackerBinary: path.join(bin, 'firecracker'),
      jailer: { jailerBinary: path.join(bin, 'jailer'), chrootBaseDir: '/j', uid: 7, gid: 8 },
    });
    expect(
      firecrackerHostInfo(probe, { chrootBaseDir: '/j', uid: 7, gid: 8, useJailer: false }),
    ).toEqual({
      firecrackerBinary: path.join(bin, 'firecracker'),
    });
  });
});
