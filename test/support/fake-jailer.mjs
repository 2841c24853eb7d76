#!/usr/bin/env node
// A stand-in for Firecracker's `jailer`, for tests on machines without Firecracker. It checks
// the command line as the jailer does, builds <chroot-base>/<exec name>/<id>/root, copies the
// exec file in, creates dev/kvm and dev/net/tun (placeholders: the real ones are device nodes),
// records the cgroup settings (and makes the VM's cgroup directory under
// BANGER_FC_FIXTURE_CGROUP_ROOT when set), hands the chroot to uid:gid, really drops to that
// uid/gid, and then becomes the emulated firecracker (same process, like the jailer's exec),
// with every path resolved inside the chroot. It cannot pivot_root: Node has no chroot().
import {
  appendFileSync,
  chownSync,
  copyFileSync,
  mkdirSync,
  readFileSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import path from 'node:path';
import { runFirecracker } from './firecracker-fixture.mjs';

function die(message) {
  process.stderr.write(`Jailer error: ${message}\n`);
  process.exit(1);
}

const argv = process.argv.slice(2);
const sep = argv.indexOf('--');
const own = sep < 0 ? argv : argv.slice(0, sep);
const forwarded = sep < 0 ? [] : argv.slice(sep + 1);
const opts = { cgroup: [], 'resource-limit': [] };
const VALUED = new Set([
  'id',
  'exec-file',
  'uid',
  'gid',
  'chroot-base-dir',
  'netns',
  'cgroup-version',
  'parent-cgroup',
  'cgroup',
  'resource-limit',
]);
const FLAGS = new Set(['daemonize', 'new-pid-ns']);
for (let i = 0; i < own.length; i++) {
  const m = /^--([a-z-]+)(?:=(.*))?$/.exec(own[i]);
  if (!m) die(`unexpected argument ${own[i]}`);
  const [, name, inline] = m;
  if (FLAGS.has(name)) {
    opts[name] = true;
    continue;
  }
  if (!VALUED.has(name)) die(`Found argument '--${name}' which wasn't expected`);
  const value = inline ?? own[++i];
  if (value === undefined) die(`--${name} needs a value`);
  if (Array.isArray(opts[name])) opts[name].push(value);
  else if (opts[name] !== undefined) die(`--${name} was given twice`);
  else opts[name] = value;
}
for (const required of ['id', 'exec-file', 'uid', 'gid'])
  if (opts[required] === undefined) die(`missing --${required}`);
if (!/^[A-Za-z0-9-]{1,64}$/.test(opts.id)) die(`Invalid instance ID: ${opts.id}`);
const execFile = opts['exec-file'];
if (!path.isAbsolute(execFile) || !statSync(execFile, { throwIfNoEntry: false })?.isFile())
  die(`exec file ${execFile} is not a file`);
const execName = path.basename(execFile);
if (!execName.includes('firecracker'))
  die(`the exec file name must contain "firecracker": ${execName}`);
const uid = Number(opts.uid);
const gid = Number(opts.gid);
if (!Number.isInteger(uid) || !Number.isInteger(gid) || uid < 0 || gid < 0)
  die('uid and gid must be non-negative integers');
const cgroupVersion = opts['cgroup-version'] ?? '1';
if (cgroupVersion !== '1' && cgroupVersion !== '2') die(`invalid cgroup version ${cgroupVersion}`);
for (const c of opts.cgroup) if (!/^[a-z_]+\.[a-z_.]+=\S+$/.test(c)) die(`invalid cgroup ${c}`);
for (const r of opts['resource-limit'])
  if (!/^(fsize|no-file)=[0-9]+$/.test(r)) die(`invalid resource limit ${r}`);
if (opts.netns !== undefined && !statSync(opts.netns, { throwIfNoEntry: false }))
  die(`netns ${opts.netns} does not exist`);
const pgrp = Number(readFileSync('/proc/self/stat', 'utf8').split(') ')[1]?.split(' ')[2]);
if (opts.daemonize && pgrp === process.pid)
  die('--daemonize: setsid() failed: a process group leader cannot start a session');
if (forwarded.some((a) => a === '--id' || a.startsWith('--id=')))
  die('--id is passed to firecracker by the jailer itself');

const base = opts['chroot-base-dir'] ?? '/srv/jailer';
if (!path.isAbsolute(base)) die('the chroot base dir must be absolute');
const chroot = path.join(base, execName, opts.id, 'root');
mkdirSync(chroot, { recursive: true });
copyFileSync(execFile, path.join(chroot, execName));
for (const dev of ['dev/kvm', 'dev/net/tun']) {
  mkdirSync(path.dirname(path.join(chroot, dev)), { recursive: true });
  writeFileSync(path.join(chroot, dev), '', { mode: 0o600 });
  chownSync(path.join(chroot, dev), uid, gid);
}
const parent = opts['parent-cgroup'] ?? execName;
const fixtureDir = process.env.BANGER_FC_FIXTURE_DIR;
if (fixtureDir) {
  appendFileSync(
    path.join(fixtureDir, `${opts.id}.jailer.jsonl`),
    `${JSON.stringify({ chroot, uid, gid, cgroupVersion, parent, cgroups: opts.cgroup, netns: opts.netns ?? null, forwarded })}\n`,
  );
}
const cgroupRoot = process.env.BANGER_FC_FIXTURE_CGROUP_ROOT;
if (cgroupRoot && opts.cgroup.length > 0)
  mkdirSync(path.join(cgroupRoot, parent, opts.id), { recursive: true });
chownSync(chroot, uid, gid);
// Drop privileges for real: the emulated firecracker runs as uid:gid from here on.
process.setgroups([]);
process.setgid(gid);
process.setuid(uid);
await runFirecracker(
  [`--id=${opts.id}`, '--start-time-us=1', '--start-time-cpu-us=1', ...forwarded],
  chroot,
);
