import { existsSync, promises as fs } from 'node:fs';
import path from 'node:path';
import { describe, expect, inject, it } from 'vitest';
import { BangerHome } from '../support/banger-home.js';
import { processesMentioning } from '../support/leaks.js';

const home = BangerHome.open(inject('e2eHome'));

interface VmJson {
  id: string;
  name: string;
  state: string;
  vcpu: number;
  memoryMib: number;
  pid: number | null;
  bootId: string | null;
}

async function show(name: string): Promise<VmJson> {
  return JSON.parse((await home.ok(['vm', 'show', name, '--json'])).out) as VmJson;
}

function leftovers(vm: VmJson): string[] {
  const found: string[] = [];
  if (processesMentioning(vm.id).length > 0) found.push('process');
  if (existsSync(path.join(home.stateDir, 'vms', vm.id))) found.push('disks');
  if (existsSync(path.join(home.runtimeDir, 'vms', vm.id))) found.push('sockets');
  return found;
}

describe('persistent VMs', () => {
  it('create, exec, stop, start, set, restart, logs, stats, kill, delete', async () => {
    await home.ok(['vm', 'create', '--name', 'life', '--no-start']);
    expect((await show('life')).state).toBe('stopped');
    const notRunning = await home.run(['vm', 'exec', 'life', '--', 'true']);
    expect(notRunning.code).toBe(68);
    expect(notRunning.stderr).toContain('banger vm start life');

    await home.ok(['vm', 'start', 'life']);
    const started = await show('life');
    expect(started.state).toBe('running');
    expect(started.pid).toBeGreaterThan(0);

    // The status of `vm exec` is the guest command's.
    expect((await home.run(['vm', 'exec', 'life', '--', 'sh', '-c', 'exit 3'])).code).toBe(3);
    await home.ok(['vm', 'exec', 'life', '--', 'sh', '-c', 'echo kept > /root/note; sync']);

    const setRunning = await home.run(['vm', 'set', 'life', '--vcpu', '2']);
    expect(setRunning.code).toBe(68);
    expect(setRunning.stderr).toContain('stopped VMs only');

    await home.ok(['vm', 'stop', 'life']);
    expect((await show('life')).state).toBe('stopped');
    expect(processesMentioning(started.id)).toEqual([]);

    await home.ok(['vm', 'set', 'life', '--vcpu', '2', '--memory', '384']);
    await home.ok(['vm', 'start', 'life']);
    const afterStart = await home.ok([
      'vm',
      'exec',
      'life',
      '--',
      'sh',
      '-c',
      'cat /root/note; nproc',
    ]);
    expect(afterStart.out).toBe('kept\n2\n');
    const second = await show('life');
    expect(second.memoryMib).toBe(384);
    expect(second.bootId).not.toBe(started.bootId);

    await home.ok(['vm', 'restart', 'life']);
    const restarted = await show('life');
    expect(restarted.bootId).not.toBe(second.bootId);
    expect((await home.ok(['vm', 'exec', 'life', '--', 'cat', '/root/note'])).out).toBe('kept\n');

    const logs = await home.ok(['vm', 'logs', 'life']);
    expect(logs.out).toContain('banger-init: ready');
    const stats = JSON.parse((await home.ok(['vm', 'stats', '--json'])).out) as {
      name: string;
      memoryBytes: number;
    }[];
    expect(stats.find((s) => s.name === 'life')?.memoryBytes).toBeGreaterThan(10 * 1024 * 1024);

    await home.ok(['vm', 'kill', 'life']);
    expect((await show('life')).state).toBe('stopped');
    await home.ok(['vm', 'start', 'life']);
    const running = await show('life');
    await home.ok(['vm', 'delete', 'life']);
    expect((await home.run(['vm', 'show', 'life'])).code).toBe(65);
    expect(leftovers(running)).toEqual([]);
  });

  it('accepts an unambiguous id prefix and deletes several VMs at once', async () => {
    await home.ok(['vm', 'create', '--name', 'pa', '--no-start']);
    await home.ok(['vm', 'create', '--name', 'pb', '--no-start']);
    const pa = await show('pa');
    expect((await show(pa.id.slice(0, 8))).name).toBe('pa');
    const r = await home.ok(['vm', 'delete', 'pa', 'pb']);
    expect(r.out).toBe('deleted pa\ndeleted pb\n');
  });

  it('prune -f deletes exactly the VMs that are not running', async () => {
    await home.ok(['vm', 'create', '--name', 'keep']);
    await home.ok(['vm', 'create', '--name', 'drop', '--no-start']);
    const refused = await home.run(['vm', 'prune']);
    expect(refused.code).toBe(64);
    const r = await home.ok(['vm', 'prune', '-f']);
    expect(r.out).toBe('deleted drop\n');
    const names = (JSON.parse((await home.ok(['vm', 'list', '--json'])).out) as VmJson[]).map(
      (v) => v.name,
    );
    expect(names).toEqual(['keep']);
    await home.ok(['vm', 'delete', 'keep']);
  });

  it('runs 4 `vm run --rm` in parallel', async () => {
    const runs = await Promise.all(
      [1, 2, 3, 4].map((i) =>
        home.run(['vm', 'run', '--rm', '--', 'sh', '-c', `echo run-${String(i)}`]),
      ),
    );
    expect(runs.map((r) => [r.code, r.out])).toEqual(
      [1, 2, 3, 4].map((i) => [0, `run-${String(i)}\n`]),
    );
    expect(JSON.parse((await home.ok(['vm', 'list', '--json'])).out)).toEqual([]);
  });

  it('a daemon killed with SIGKILL: the next one adopts the running VMs', async () => {
    await home.ok(['vm', 'create', '--name', 'adopt-a']);
    await home.ok(['vm', 'create', '--name', 'adopt-b']);
    const before = await Promise.all([show('adopt-a'), show('adopt-b')]);
    const pid = await home.daemonPid();
    expect(pid).toBeDefined();
    process.kill(pid!, 'SIGKILL');
    await new Promise((r) => setTimeout(r, 300));
    // Any CLI call starts a new daemon, which adopts both VMs: same guest, same boot id.
    const after = await Promise.all([show('adopt-a'), show('adopt-b')]);
    expect(await home.daemonPid()).not.toBe(pid);
    expect(after.map((v) => [v.state, v.pid, v.bootId])).toEqual(
      before.map((v) => ['running', v.pid, v.bootId]),
    );
    const bootIds = await Promise.all(
      ['adopt-a', 'adopt-b'].map(async (n) =>
        (
          await home.ok(['vm', 'exec', n, '--', 'cat', '/proc/sys/kernel/random/boot_id'])
        ).out.trim(),
      ),
    );
    expect(bootIds).toEqual(before.map((v) => v.bootId));
    await home.ok(['vm', 'delete', 'adopt-a', 'adopt-b']);
    expect(before.flatMap(leftovers)).toEqual([]);
  });
});

describe('refusals, before anything is made', () => {
  it('bad and duplicate names, unknown VMs, out-of-range sizes', async () => {
    const bad = await home.run(['vm', 'create', '--name', '-x']);
    expect(bad.code).toBe(64);
    const upper = await home.run(['vm', 'create', '--name', 'UPPER', '--no-start']);
    expect(upper.code).toBe(64);
    expect(upper.stderr).toContain('UPPER');
    expect(upper.stderr).toContain('[a-z0-9][a-z0-9-]{0,63}');
    await home.ok(['vm', 'create', '--name', 'dup', '--no-start']);
    const dup = await home.run(['vm', 'create', '--name', 'dup', '--no-start']);
    expect(dup.code).toBe(66);
    expect(dup.stderr).toContain('a VM named "dup" already exists');
    const unknown = await home.run(['vm', 'start', 'nobody']);
    expect(unknown.code).toBe(65);
    expect(unknown.stderr).toContain('no VM named "nobody"');
    const memory = await home.run(['vm', 'create', '--memory', '10']);
    expect(memory.code).toBe(64);
    expect(memory.stderr).toContain('--memory must be an integer from 64 to 262144');
    const vcpu = await home.run(['vm', 'set', 'dup', '--vcpu', '0']);
    expect(vcpu.code).toBe(64);
    await home.ok(['vm', 'delete', 'dup']);
  });

  it('a config file with an unknown key or that does not parse', async () => {
    const cfgDir = path.join(home.root, 'config', 'banger');
    await fs.mkdir(cfgDir, { recursive: true });
    const cfg = path.join(cfgDir, 'config.toml');
    const previous = await fs.readFile(cfg, 'utf8').catch(() => undefined);
    try {
      await fs.writeFile(cfg, '[vm_defaults]\ncpus = 2\n');
      const unknownKey = await home.run(['vm', 'list']);
      expect(unknownKey.code).toBe(64);
      expect(unknownKey.stderr).toContain('vm_defaults.cpus is not a known key');
      await fs.writeFile(cfg, 'vm_defaults = [oops\n');
      const broken = await home.run(['vm', 'list']);
      expect(broken.code).toBe(64);
      expect(broken.stderr).toContain('does not parse as TOML');
    } finally {
      if (previous === undefined) await fs.rm(cfg, { force: true });
      else await fs.writeFile(cfg, previous);
    }
  });
});

describe('doctor, completion and version', () => {
  it('doctor passes here with a KVM warning, and says why', async () => {
    const r = await home.run(['doctor']);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/^PASS {2}qemu /m);
    expect(r.out).toMatch(/^(PASS|WARN) {2}kvm /m);
    expect(r.out).toMatch(/^PASS {2}image /m);
  });

  it('completes commands and live VM names', async () => {
    expect((await home.ok(['__complete', 'vm', 'st'])).out).toBe('start\nstats\nstop\n');
    await home.ok(['vm', 'create', '--name', 'comp-me', '--no-start']);
    expect((await home.ok(['__complete', 'vm', 'start', 'comp'])).out).toBe('comp-me\n');
    expect((await home.ok(['completion', 'bash'])).out).toContain(
      'complete -o default -F _banger banger',
    );
    await home.ok(['vm', 'delete', 'comp-me']);
  });

  it('prints its version', async () => {
    expect((await home.ok(['--version'])).out).toMatch(/^\d+\.\d+\.\d+\n$/);
    expect((await home.ok(['version'])).out).toMatch(/^banger \d+\.\d+\.\d+\n$/);
  });
});
