/**
 * Warm starts with real microVMs (docs/warm-start.md): a warm template of the default image,
 * VMs restored from it (one and three at once), each with its own identity; a template whose
 * disk changed is refused and rebuilt; pause and resume; a snapshot of a running VM cloned
 * into a new one. Boots are few (each costs seconds under TCG): the template, its rebuild and
 * one cold VM; everything else is restored.
 */
import { existsSync, promises as fs, readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { SavedInfo, VmInfo } from '../../src/protocol/index.js';
import { BangerHome, requirePrerequisite } from '../support/banger-home.js';

const home = BangerHome.open(inject('e2eHome'));
const IMAGE = 'debian-bookworm';
const hasSsh = requirePrerequisite(existsSync('/usr/bin/ssh'), 'OpenSSH client (ssh)');

/** What a guest says about itself, one `key=value` per line. */
const IDENTITY = [
  'echo "time=$(date +%s.%N)"',
  'echo "random=$(head -c 16 /dev/urandom | od -An -tx1 | tr -d " \\n")"',
  'echo "hostname=$(hostname)"',
  'echo "mac=$(cat /sys/class/net/eth0/address)"',
  'echo "ip=$(ip -4 -o addr show dev eth0 | awk \'{print $4}\')"',
  'echo "machineid=$(cat /etc/machine-id)"',
  'echo "hostkey=$(cut -d" " -f2 /etc/ssh/ssh_host_ed25519_key.pub)"',
  'echo "bootid=$(cat /proc/sys/kernel/random/boot_id)"',
].join('; ');

function parseIdentity(text: string): Record<string, string> {
  return Object.fromEntries(
    text
      .trim()
      .split('\n')
      .map((line) => {
        const eq = line.indexOf('=');
        return [line.slice(0, eq), line.slice(eq + 1)];
      }),
  );
}

async function templates(): Promise<SavedInfo[]> {
  return JSON.parse((await home.ok(['image', 'templates', IMAGE, '--json'])).out) as SavedInfo[];
}

async function show(name: string): Promise<VmInfo> {
  return JSON.parse((await home.ok(['vm', 'show', name, '--json'])).out) as VmInfo;
}

/** utime + stime of a process, in clock ticks (/proc/PID/stat fields 14 and 15). */
function cpuTicks(pid: number): number {
  const stat = readFileSync(`/proc/${String(pid)}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return Number(fields[11]) + Number(fields[12]);
}

describe('warm start from a template', () => {
  let template: SavedInfo;

  beforeAll(async () => {
    const warmed = await home.ok(['image', 'warm', IMAGE, '--no-disk', '--json']);
    template = (JSON.parse(warmed.out) as { template: SavedInfo }).template;
    // Old enough that a restored clock that was not set would be seconds behind.
    const age = Date.now() - Date.parse(template.createdAt);
    if (age < 5000) await new Promise((r) => setTimeout(r, 5000 - age));
  });

  afterAll(async () => {
    await home.run(['image', 'warm', IMAGE, '--remove']);
  });

  it('saves a template once: a second `image warm` finds it valid', async () => {
    expect(template).toMatchObject({ kind: 'template', image: IMAGE, diskBytes: 0 });
    const again = await home.ok(['image', 'warm', IMAGE, '--no-disk']);
    expect(again.out).toContain(`already warm: template ${template.id}`);
  });

  it('a warm `vm run --rm` passes stdin, stdout, stderr and the exit status through', async () => {
    const r = await home.run(
      [
        'vm',
        'run',
        '--rm',
        '--',
        'sh',
        '-c',
        'tr a-z A-Z; echo err >&2; cat /proc/sys/kernel/random/boot_id; exit 7',
      ],
      { input: 'piped\n' },
    );
    expect(r.stderr).toBe('err\n');
    expect(r.code).toBe(7);
    // The saved guest's kernel: restored, not booted.
    expect(r.out).toBe(`PIPED\n${template.guestBootId}\n`);
    expect(JSON.parse((await home.ok(['vm', 'list', '--json'])).out)).toEqual([]);
  });

  it('three VMs restored at once each have their own randomness, names, addresses, ids, keys and the host clock', async () => {
    const before = Date.now() / 1000;
    // Each writes a file of its own, waits for the others to have written theirs, then looks.
    const script = `${IDENTITY}; touch /root/mine-$(hostname); sleep 2; echo "files=$(ls /root | grep -c mine-)"`;
    const runs = await Promise.all(
      [1, 2, 3].map(() => home.run(['vm', 'run', '--rm', '--', 'sh', '-c', script])),
    );
    const after = Date.now() / 1000;
    for (const r of runs) expect(r.code, r.stderr).toBe(0);
    const ids = runs.map((r) => parseIdentity(r.out));
    for (const key of ['random', 'hostname', 'mac', 'ip', 'machineid', 'hostkey']) {
      const values = ids.map((id) => id[key]);
      expect(new Set(values).size, `${key}: ${values.join(', ')}`).toBe(3);
    }
    for (const id of ids) {
      expect(id.bootid).toBe(template.guestBootId);
      expect(id.mac).toMatch(/^02:[0-9a-f]{2}(:[0-9a-f]{2}){4}$/);
      expect(id.ip).toMatch(/^10\.213\.0\.\d+\/24$/);
      expect(id.machineid).toMatch(/^[0-9a-f]{32}$/);
      // The guest's clock was set when it was restored: within 2 s of the host's.
      const time = Number(id.time);
      expect(time).toBeGreaterThan(before - 2);
      expect(time).toBeLessThan(after + 2);
      // Its own disk: the other two VMs' files are not there.
      expect(id.files).toBe('1');
    }
    // Nor in the template: a fresh VM from it has none, and the template is still the same.
    const fresh = await home.run([
      'vm',
      'run',
      '--rm',
      '--',
      'sh',
      '-c',
      'ls /root | grep -c mine- || true',
    ]);
    expect(fresh.out.trim()).toBe('0');
    expect((await templates()).map((t) => t.id)).toEqual([template.id]);
  });

  it('refuses a template whose disk changed since it was saved, and builds a new one', async () => {
    const root = path.join(template.dir, 'root.qcow2');
    const handle = await fs.open(root, 'r+');
    try {
      // One byte of the frozen overlay, as a stray write would.
      await handle.write(Buffer.from('X'), 0, 1, (await handle.stat()).size - 1);
    } finally {
      await handle.close();
    }
    const r = await home.run(['vm', 'run', '--rm', '--', 'cat', '/proc/sys/kernel/random/boot_id']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain(`warm template ${template.id} of ${IMAGE} is stale`);
    expect(r.stderr).toContain('its root disk');
    const now = await templates();
    expect(now).toHaveLength(1);
    expect(now[0]?.id).not.toBe(template.id);
    expect(existsSync(template.dir)).toBe(false);
    // Started from the new template, never from the changed one.
    expect(r.out.trim()).toBe(now[0]?.guestBootId);
    expect(r.out.trim()).not.toBe(template.guestBootId);
    template = now[0] ?? template;
  });
});

describe('pause, resume and snapshots of a running VM', () => {
  const SRC = 'warm-src';
  const CLONE = 'warm-clone';
  const SNAP = 'warm-snap';

  beforeAll(async () => {
    await home.ok(['vm', 'create', '--name', SRC, '--cold']);
    // A file on its work disk and a process that outlives the exec that started it.
    await home.ok([
      'vm',
      'exec',
      SRC,
      '--',
      'sh',
      '-c',
      'echo kept > /root/state.txt; setsid -f sleep 86400 </dev/null >/dev/null 2>&1',
    ]);
  });

  afterAll(async () => {
    await home.run(['vm', 'delete', SRC, CLONE]);
    await home.run(['snapshot', 'delete', SNAP]);
  });

  it('a paused VM uses no guest CPU, refuses work, and resumes with its processes', async () => {
    const vm = await show(SRC);
    const pid = vm.pid ?? 0;
    await home.ok(['vm', 'pause', SRC]);
    expect((await show(SRC)).state).toBe('paused');
    const t0 = cpuTicks(pid);
    await new Promise((r) => setTimeout(r, 3000));
    // 3 s of a busy vCPU would be ~300 ticks; a stopped one makes none (QEMU's main loop idles).
    expect(cpuTicks(pid) - t0).toBeLessThanOrEqual(3);
    const refused = await home.run(['vm', 'exec', SRC, '--', 'true']);
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toContain(`VM ${SRC} is paused`);
    await home.ok(['vm', 'resume', SRC]);
    const after = await home.ok(['vm', 'exec', SRC, '--', 'sh', '-c', 'date +%s; pgrep -x sleep']);
    const [time, sleeper] = after.out.trim().split('\n');
    expect(Math.abs(Number(time) - Date.now() / 1000)).toBeLessThan(2);
    expect(Number(sleeper)).toBeGreaterThan(1);
    expect((await show(SRC)).state).toBe('running');
  });

  it('a clone from a snapshot has the source files and running processes, and its own identity', async () => {
    const snap = JSON.parse(
      (await home.ok(['vm', 'snapshot', SRC, '--name', SNAP, '--json'])).out,
    ) as SavedInfo;
    expect(snap).toMatchObject({ kind: 'snapshot', name: SNAP, sourceVm: SRC });
    const listed = JSON.parse((await home.ok(['snapshot', 'list', '--json'])).out) as SavedInfo[];
    expect(listed.map((s) => s.name)).toContain(SNAP);
    // The source runs on.
    expect((await home.ok(['vm', 'exec', SRC, '--', 'cat', '/root/state.txt'])).out).toBe('kept\n');

    await home.ok(['vm', 'create', '--from-snapshot', SNAP, '--name', CLONE]);
    const clone = await show(CLONE);
    expect(clone.state).toBe('running');
    expect(clone.restoredFrom).toBe(`snapshot ${SNAP}`);
    const before = Date.now() / 1000;
    const seen = await home.ok([
      'vm',
      'exec',
      CLONE,
      '--',
      'sh',
      '-c',
      `cat /root/state.txt; pgrep -x sleep >/dev/null && echo sleeping; ${IDENTITY}`,
    ]);
    const after = Date.now() / 1000;
    const [file, sleeping, ...rest] = seen.out.trim().split('\n');
    expect(file).toBe('kept');
    expect(sleeping).toBe('sleeping');
    const mine = parseIdentity(rest.join('\n'));
    const theirs = parseIdentity(
      (await home.ok(['vm', 'exec', SRC, '--', 'sh', '-c', IDENTITY])).out,
    );
    expect(mine.hostname).toBe(CLONE);
    expect(mine.mac).toBe(clone.network?.mac);
    expect(mine.ip?.split('/')[0]).toBe(clone.network?.guestAddress);
    for (const key of ['hostname', 'mac', 'ip', 'machineid', 'hostkey', 'random'])
      expect(mine[key], key).not.toBe(theirs[key]);
    expect(Number(mine.time)).toBeGreaterThan(before - 2);
    expect(Number(mine.time)).toBeLessThan(after + 2);
    // The clone's files are its own: the source does not see what the clone writes.
    await home.ok(['vm', 'exec', CLONE, '--', 'sh', '-c', 'echo clone > /root/clone.txt']);
    const missing = await home.run(['vm', 'exec', SRC, '--', 'cat', '/root/clone.txt']);
    expect(missing.code).not.toBe(0);
  });

  it.runIf(hasSsh)('ssh to the clone meets the host key banger pinned for it', async () => {
    const r = await home.run(['vm', 'ssh', CLONE, '--', 'hostname']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.out).toBe(`${CLONE}\n`);
    const pinned = await fs.readFile(path.join(home.stateDir, 'ssh', 'known_hosts'), 'utf8');
    const key = (
      await home.ok([
        'vm',
        'exec',
        CLONE,
        '--',
        'cut',
        '-d',
        ' ',
        '-f2',
        '/etc/ssh/ssh_host_ed25519_key.pub',
      ])
    ).out.trim();
    expect(pinned).toContain(`${CLONE}.vm ssh-ed25519 ${key}`);
  });
});
