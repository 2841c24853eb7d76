/**
 * vmm = "firecracker" on a host that cannot run it (ours: no real KVM, no firecracker binary)
 * fails fast, says why and what works, and leaves nothing behind. The shared e2e home's daemon
 * is restarted with that config and restarted again without it afterwards.
 */
import { existsSync, promises as fs, readdirSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { BangerHome } from '../support/banger-home.js';

const home = BangerHome.open(inject('e2eHome'));
const configFile = path.join(home.root, 'config', 'banger', 'config.toml');

describe('vmm = "firecracker" where Firecracker cannot run', () => {
  let previous: string | undefined;

  beforeAll(async () => {
    previous = existsSync(configFile) ? await fs.readFile(configFile, 'utf8') : undefined;
    await fs.mkdir(path.dirname(configFile), { recursive: true, mode: 0o700 });
    // A top-level key goes before any table the file already has.
    await fs.writeFile(configFile, `vmm = "firecracker"\n${previous ?? ''}`);
    await home.stopDaemon();
  });

  afterAll(async () => {
    if (previous === undefined) await fs.rm(configFile, { force: true });
    else await fs.writeFile(configFile, previous);
    await home.stopDaemon();
  });

  it('refuses `vm run` at once, saying why and that QEMU works', async () => {
    const vmsDir = path.join(home.stateDir, 'vms');
    const before = existsSync(vmsDir) ? readdirSync(vmsDir) : [];
    const r = await home.run(['vm', 'run', '--rm', '--', 'true']);
    expect(r.code).toBe(68); // precondition_failed
    expect(r.stderr).toContain('vmm = "firecracker" but firecracker cannot run here');
    expect(r.stderr).toMatch(/firecracker binary is not installed|KVM/);
    expect(r.stderr).toContain('set vmm = "qemu"');
    // Refused before anything was made: no VM directory, no VM record.
    expect(existsSync(vmsDir) ? readdirSync(vmsDir) : []).toEqual(before);
    expect(JSON.parse((await home.ok(['vm', 'list', '--json'])).out)).toEqual([]);
  });
});

describe('--vmm firecracker where Firecracker cannot run', () => {
  it('refuses that one VM, saying why, and QEMU VMs still run', async () => {
    const vmsDir = path.join(home.stateDir, 'vms');
    const before = existsSync(vmsDir) ? readdirSync(vmsDir) : [];
    const r = await home.run(['vm', 'create', '--vmm', 'firecracker', '--name', 'fc-refused']);
    expect(r.code).toBe(68);
    expect(r.stderr).toContain('firecracker cannot run here');
    expect(existsSync(vmsDir) ? readdirSync(vmsDir) : []).toEqual(before);
    const bad = await home.run(['vm', 'create', '--vmm', 'xen']);
    expect(bad.code).toBe(64);
    expect(bad.stderr).toContain('xen');
    const qemu = await home.run(['vm', 'run', '--rm', '--vmm', 'qemu', '--', 'true']);
    expect(qemu.code).toBe(0);
  });
});
