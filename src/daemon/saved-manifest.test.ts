import { describe, expect, it } from 'vitest';
import type { VmLaunchSpec } from '../protocol/index.js';
import {
  launchDifference,
  launchShape,
  manifestProblem,
  sameFingerprint,
  type SavedManifest,
} from './saved-manifest.js';

function spec(id: string, overrides: Partial<VmLaunchSpec> = {}): VmLaunchSpec {
  return {
    vmId: id,
    vcpus: 1,
    memoryMib: 512,
    accel: 'tcg',
    boot: {
      kernelPath: '/k/vmlinux',
      initrdPath: '/k/initrd',
      args: [
        'root=/dev/vda',
        `banger.hostname=vm-${id}`,
        `banger.ip=10.0.0.${id.slice(-1)}/24`,
        'banger.gw=10.0.0.1',
        'banger.dns=10.0.0.1,100.64.213.1',
        'banger.ssh_key=ssh-ed25519,AAAA',
      ],
    },
    disks: [{ id: 'root', path: `/vms/${id}/root.qcow2`, format: 'qcow2', readOnly: false }],
    nics: [{ tap: `bg-${id}`, mac: `02:00:00:00:00:0${id.slice(-1)}` }],
    runDir: `/run/${id}`,
    consoleLogPath: `/vms/${id}/console.log`,
    vmmLogPath: `/vms/${id}/vmm.log`,
    netns: 'banger-ns',
    ...overrides,
  };
}

describe('launchShape', () => {
  it('is the same for two VMs that differ only in what is their own', () => {
    expect(launchShape(spec('000000000001'))).toBe(launchShape(spec('000000000002')));
  });

  it.each<[string, Partial<VmLaunchSpec>, string]>([
    ['memory', { memoryMib: 1024 }, 'memoryMib'],
    ['vCPUs', { vcpus: 2 }, 'vcpus'],
    ['kernel', { boot: { kernelPath: '/k2/vmlinux', args: [] } }, 'kernel'],
    [
      'a disk',
      {
        disks: [
          { id: 'root', path: '/r', format: 'qcow2', readOnly: false },
          { id: 'work', path: '/w', format: 'raw', readOnly: false },
        ],
      },
      'disks',
    ],
    ['the NICs', { nics: [] }, 'nics'],
    ['the namespace', { netns: undefined }, 'netns'],
    ['the accelerator', { accel: 'kvm' }, 'accel'],
  ])('differs when %s differs, and names it', (_what, overrides, field) => {
    const saved = launchShape(spec('000000000001'));
    const now = launchShape(spec('000000000002', overrides));
    expect(now).not.toBe(saved);
    expect(launchDifference(saved, now)).toBe(field);
  });

  it('keeps every argument but the per-VM ones (the install key is part of the shape)', () => {
    const shape = JSON.parse(launchShape(spec('000000000001'))) as { args: string[] };
    expect(shape.args).toEqual([
      'root=/dev/vda',
      'banger.hostname=*',
      'banger.ip=*',
      'banger.gw=*',
      'banger.dns=*',
      'banger.ssh_key=ssh-ed25519,AAAA',
    ]);
    const other = spec('000000000002');
    other.boot.args[5] = 'banger.ssh_key=ssh-ed25519,BBBB';
    expect(launchDifference(launchShape(spec('000000000001')), launchShape(other))).toBe('args');
    expect(launchDifference('{', launchShape(other))).toBe('launch');
  });
});

describe('sameFingerprint', () => {
  const fp = { size: 1, dev: '2', ino: '3', mtimeNs: '4', ctimeNs: '5' };
  it('needs every field equal', () => {
    expect(sameFingerprint(fp, { ...fp })).toBe(true);
    for (const key of Object.keys(fp) as (keyof typeof fp)[]) {
      const changed = { ...fp, [key]: key === 'size' ? 9 : '9' };
      expect(sameFingerprint(fp, changed)).toBe(false);
    }
  });
});

describe('manifestProblem', () => {
  const fp = { size: 1, dev: '2', ino: '3', mtimeNs: '4', ctimeNs: '5' };
  const good: SavedManifest = {
    schema: 1,
    kind: 'template',
    id: '0123456789ab',
    createdAt: '2026-11-29T00:00:00.000Z',
    bangerVersion: '0.1.0',
    backend: 'qemu',
    vmmVersion: '7.2.22',
    accel: 'tcg',
    image: {
      name: 'img',
      sha256: 'a'.repeat(64),
      rootfs: { path: '/i/rootfs.ext4', fingerprint: fp },
    },
    kernel: { name: 'k', files: [{ path: '/k/vmlinux', fingerprint: fp }] },
    shape: { vcpus: 1, memoryMib: 512, workDiskBytes: 0 },
    launch: '{}',
    state: {
      file: { path: 'qemu-state', fingerprint: fp, sha256: 'b'.repeat(64) },
      compression: 'none',
      memory: { path: 'memory', fingerprint: fp },
    },
    disks: { root: { path: 'root.qcow2', fingerprint: fp, format: 'qcow2' } },
    guest: { agentVersion: '0.1.0', bootId: 'x' },
  };

  it('accepts a manifest banger writes', () => {
    expect(manifestProblem(good)).toBeUndefined();
    expect(manifestProblem(JSON.parse(JSON.stringify(good)))).toBeUndefined();
  });

  it.each<[string, (m: SavedManifest) => unknown, RegExp]>([
    ['not an object', () => 'x', /not a JSON object/],
    ['another schema', (m) => ({ ...m, schema: 2 }), /schema 2/],
    ['a bad id', (m) => ({ ...m, id: '../x' }), /id is not/],
    [
      'a state file outside its directory',
      (m) => ({ ...m, state: { ...m.state, file: { ...m.state.file, path: '../../etc/passwd' } } }),
      /state is malformed/,
    ],
    [
      'a memory file given as a path',
      (m) => ({ ...m, state: { ...m.state, memory: { path: '/etc/shadow', fingerprint: fp } } }),
      /state is malformed/,
    ],
    [
      'a relative rootfs',
      (m) => ({ ...m, image: { ...m.image, rootfs: { path: 'rootfs', fingerprint: fp } } }),
      /image is malformed/,
    ],
    [
      'a work disk the shape does not have',
      (m) => ({ ...m, disks: { ...m.disks, work: { path: 'work.ext4', fingerprint: fp } } }),
      /work disk does not match/,
    ],
    [
      'a fingerprint without its times',
      (m) => ({
        ...m,
        disks: { root: { path: 'root.qcow2', fingerprint: { size: 1 }, format: 'qcow2' } },
      }),
      /disks are malformed/,
    ],
  ])('refuses %s', (_what, change, reason) => {
    expect(manifestProblem(change(structuredClone(good)))).toMatch(reason);
  });
});
