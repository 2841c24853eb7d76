/**
 * The helper's VMM operations. A VMM is started as the install's owner, never as root:
 *
 *   [ip netns exec NS] [banger-tapfd --tap TAP --] setpriv --reuid OWNER --regid GROUP
 *     --init-groups --inh-caps=-all --bounding-set=-all --no-new-privs -- qemu-system-x86_64 ...
 *
 * so every socket it makes (QMP, agent, Firecracker's API and vsock sockets) is the owner's
 * from the moment it exists: there is no window in which the daemon's connect fails or in
 * which anyone else could connect, and nothing to chown afterwards. The VMM opens kernels,
 * disks and console logs with the owner's rights only (QEMU's taps are opened as root by
 * banger-tapfd and handed over as fds 3, 4, ...; Firecracker opens taps made with
 * `user OWNER`), so a
 * path in a spec can never reach a file the owner could not open anyway. Root touches one
 * file per launch: the VMM's log, opened through a verified directory (owner-files.ts).
 *
 * The argv comes from the pure launch plans (vmm/qemu|firecracker/launch-plan), after the
 * spec has passed their checks and the helper's own (paths under banger's roots, this
 * install's network namespace, banger interface names).
 */
import { once } from 'node:events';
import { promises as fs } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import { BangerError, sleep, spawnChild } from '../base/index.js';
import { checkIfname, processStartTime } from '../network/index.js';
import {
  asObject,
  fail,
  int,
  onlyKeys,
  str,
  VM_ID_PATTERN,
  type KillVmmRequest,
  type LaunchVmmRequest,
  type LaunchVmmResult,
  type ReleaseVmmRequest,
  type VmLaunchSpec,
} from '../protocol/index.js';
import { buildFirecrackerLaunchPlan } from '../vmm/firecracker/launch-plan.js';
import { buildQemuLaunchPlan } from '../vmm/qemu/launch-plan.js';
import { checkOwnerPath, openOwnerFile, readOwnerFileTail, type OwnerTree } from './owner-files.js';

/** The same marker vmm/spawn-vmm.ts writes: the daemon's error tails start after the last one. */
export const VMM_LOG_MARKER = '--- banger: starting';

export interface HelperVmmOptions {
  tree: OwnerTree;
  /** This install's network namespace (the only one a VMM may be started in). */
  netns: string;
  binaries: { ip: string; setpriv: string; qemu: string; firecracker: string; tapfd: string };
  /** Host TSC kHz (TCG boots hang without tsc_early_khz). */
  tscKhz: () => Promise<number | undefined>;
}

const SPEC_KEYS = [
  'vmId',
  'vcpus',
  'memoryMib',
  'accel',
  'boot',
  'disks',
  'nics',
  'runDir',
  'consoleLogPath',
  'vmmLogPath',
  'netns',
  'memoryFile',
  'incoming',
];

/** Every check of a launch request that does not need the host; throws bad_request. */
export function parseLaunchVmm(
  raw: unknown,
  options: Pick<HelperVmmOptions, 'tree' | 'netns'>,
): LaunchVmmRequest {
  const req = asObject(raw, 'launchVmm');
  onlyKeys(req, ['backend', 'spec'], 'launchVmm');
  const backend = req.backend;
  if (backend !== 'qemu' && backend !== 'firecracker')
    throw fail('launchVmm.backend', 'must be "qemu" or "firecracker"', backend);
  const spec = asObject(req.spec, 'launchVmm.spec');
  onlyKeys(spec, SPEC_KEYS, 'launchVmm.spec');
  const boot = asObject(spec.boot, 'launchVmm.spec.boot');
  onlyKeys(boot, ['kernelPath', 'initrdPath', 'args'], 'launchVmm.spec.boot');
  const { tree } = options;
  checkOwnerPath(boot.kernelPath, 'launchVmm.spec.boot.kernelPath', tree);
  if (boot.initrdPath !== undefined)
    checkOwnerPath(boot.initrdPath, 'launchVmm.spec.boot.initrdPath', tree);
  if (!Array.isArray(spec.disks)) throw fail('launchVmm.spec.disks', 'must be a list', spec.disks);
  spec.disks.forEach((d, i) => {
    const field = `launchVmm.spec.disks[${String(i)}]`;
    const disk = asObject(d, field);
    onlyKeys(disk, ['id', 'path', 'format', 'readOnly'], field);
    checkOwnerPath(disk.path, `${field}.path`, tree);
  });
  if (!Array.isArray(spec.nics)) throw fail('launchVmm.spec.nics', 'must be a list', spec.nics);
  spec.nics.forEach((n, i) => {
    const field = `launchVmm.spec.nics[${String(i)}]`;
    const nic = asObject(n, field);
    onlyKeys(nic, ['tap', 'mac'], field);
    checkIfname(nic.tap, `${field}.tap`);
  });
  checkOwnerPath(spec.runDir, 'launchVmm.spec.runDir', tree);
  checkOwnerPath(spec.consoleLogPath, 'launchVmm.spec.consoleLogPath', tree);
  checkOwnerPath(spec.vmmLogPath, 'launchVmm.spec.vmmLogPath', tree);
  if (spec.memoryFile !== undefined) {
    const memory = asObject(spec.memoryFile, 'launchVmm.spec.memoryFile');
    onlyKeys(memory, ['path', 'shared'], 'launchVmm.spec.memoryFile');
    checkOwnerPath(memory.path, 'launchVmm.spec.memoryFile.path', tree);
  }
  if (spec.netns !== undefined && spec.netns !== options.netns)
    throw fail(
      'launchVmm.spec.netns',
      `must be this install's network namespace ${options.netns}`,
      spec.netns,
    );
  // The launch plans check the rest (ids, sizes, kernel arguments, MACs, formats).
  return { backend, spec: spec as unknown as VmLaunchSpec };
}

export function parseKillVmm(raw: unknown): KillVmmRequest {
  const req = asObject(raw, 'killVmm');
  onlyKeys(req, ['vmId', 'pid', 'startTime'], 'killVmm');
  return {
    vmId: str(req, 'vmId', 'killVmm', VM_ID_PATTERN, 'must be 12 lowercase hex characters'),
    pid: int(req, 'pid', 'killVmm', 2, 0x3fffffff),
    startTime: int(req, 'startTime', 'killVmm', 0, Number.MAX_SAFE_INTEGER),
  };
}

export function parseReleaseVmm(raw: unknown): ReleaseVmmRequest {
  const req = asObject(raw, 'releaseVmm');
  onlyKeys(req, ['backend', 'vmId'], 'releaseVmm');
  const backend = req.backend;
  if (backend !== 'qemu' && backend !== 'firecracker')
    throw fail('releaseVmm.backend', 'must be "qemu" or "firecracker"', backend);
  return {
    backend,
    vmId: str(req, 'vmId', 'releaseVmm', VM_ID_PATTERN, 'must be 12 lowercase hex characters'),
  };
}

/** argv prefix that runs a program as the owner, with no capabilities and no way to gain any. */
export function asOwnerArgv(setpriv: string, tree: Pick<OwnerTree, 'uid' | 'gid'>): string[] {
  return [
    setpriv,
    `--reuid=${String(tree.uid)}`,
    `--regid=${String(tree.gid)}`,
    '--init-groups',
    '--inh-caps=-all',
    '--bounding-set=-all',
    '--no-new-privs',
    '--',
  ];
}

/** The full command for a request: plan (no netns) wrapped in netns exec and setpriv. */
export async function vmmCommand(
  request: LaunchVmmRequest,
  options: HelperVmmOptions,
): Promise<{ file: string; argv: string[]; stdoutPath?: string; creates: string[] }> {
  const { spec } = request;
  const bare: VmLaunchSpec = { ...spec, netns: undefined };
  let file: string;
  let argv: string[];
  let stdoutPath: string | undefined;
  let creates: string[] = [];
  /** Taps opened as root and passed as fds 3, 4, ... (QEMU only; Firecracker opens its own). */
  let taps: string[] = [];
  if (request.backend === 'qemu') {
    const plan = buildQemuLaunchPlan(bare, {
      qemuBinary: options.binaries.qemu,
      tscKhz: spec.accel === 'tcg' ? await options.tscKhz() : undefined,
      tapFds: true,
    });
    ({ file, argv } = plan);
    taps = spec.nics.map((nic) => nic.tap);
  } else {
    // No jailer here: the owner's Firecracker in the owner's run directory (see privileges.md).
    const plan = buildFirecrackerLaunchPlan(bare, {
      firecrackerBinary: options.binaries.firecracker,
    });
    ({ file, argv } = plan);
    stdoutPath = plan.stdoutPath;
    creates = plan.layout.creates;
  }
  const owner = asOwnerArgv(options.binaries.setpriv, options.tree);
  const tapfd =
    taps.length === 0
      ? []
      : [options.binaries.tapfd, ...taps.flatMap((tap) => ['--tap', tap]), '--'];
  const full = [...tapfd, ...owner, file, ...argv];
  const command =
    spec.netns === undefined
      ? { file: full[0] ?? options.binaries.setpriv, argv: full.slice(1) }
      : { file: options.binaries.ip, argv: ['netns', 'exec', spec.netns, ...full] };
  return { ...command, ...(stdoutPath === undefined ? {} : { stdoutPath }), creates };
}

/** A minimal environment: nothing of the helper's reaches the VMM. */
const VMM_ENV = {
  PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
  LC_ALL: 'C',
};

export async function launchVmm(
  request: LaunchVmmRequest,
  options: HelperVmmOptions,
): Promise<LaunchVmmResult> {
  const { tree } = options;
  const command = await vmmCommand(request, options);
  for (const file of command.creates) {
    const handle = await openOwnerFile(tree, { file, field: 'firecracker file', mode: 'fresh' });
    await handle.close();
  }
  const log = await openOwnerFile(tree, {
    file: request.spec.vmmLogPath,
    field: 'launchVmm.spec.vmmLogPath',
    mode: 'append',
  });
  let out: FileHandle = log;
  let pid: number | undefined;
  try {
    if (command.stdoutPath !== undefined) {
      out = await openOwnerFile(tree, {
        file: command.stdoutPath,
        field: 'launchVmm.spec.consoleLogPath',
        mode: 'append',
      });
    }
    await log.write(
      `${VMM_LOG_MARKER} ${command.file} (as uid ${String(tree.uid)}) at ${new Date().toISOString()}\n`,
    );
    const child = spawnChild(command.file, command.argv, {
      detached: true,
      stdio: ['ignore', out.fd, log.fd],
      env: VMM_ENV,
    });
    try {
      await once(child, 'spawn');
    } catch (err) {
      throw new BangerError(
        'precondition_failed',
        `could not start ${command.file}: ${String(err)}`,
        {
          cause: err,
          hint: 'install iproute2, util-linux (setpriv) and qemu-system-x86; see `banger doctor`',
        },
      );
    }
    child.unref();
    pid = child.pid;
  } finally {
    if (out !== log) await out.close();
    await log.close();
  }
  // `ip netns exec` and setpriv exec in place: the pid is the VMM's own once it is running.
  const startTime = pid === undefined ? undefined : await processStartTime(pid);
  if (pid === undefined || startTime === undefined) {
    const tail = await readOwnerFileTail(tree, {
      file: request.spec.vmmLogPath,
      field: 'vmmLogPath',
      maxBytes: 4096,
    });
    const last = tail
      .slice(tail.lastIndexOf(VMM_LOG_MARKER))
      .trimEnd()
      .split('\n')
      .slice(-8)
      .join('\n');
    throw new BangerError('operation_failed', `the VMM exited at once${last ? `:\n${last}` : ''}`, {
      hint: `see ${request.spec.vmmLogPath}`,
    });
  }
  return { pid, startTime };
}

/** Uids (real, effective, saved, fs) of a process, from /proc/PID/status; undefined if gone. */
export async function processUids(pid: number): Promise<number[] | undefined> {
  const text = await fs.readFile(`/proc/${String(pid)}/status`, 'utf8').catch(() => undefined);
  const line = text === undefined ? undefined : /^Uid:\s+(.*)$/m.exec(text)?.[1];
  return line?.trim().split(/\s+/).map(Number);
}

async function processArgv(pid: number): Promise<string[] | undefined> {
  const raw = await fs.readFile(`/proc/${String(pid)}/cmdline`).catch(() => undefined);
  return raw?.toString('utf8').split('\0');
}

/**
 * SIGKILLs a VMM this install's helper started: same pid and start time, run by the owner
 * (every uid), and named after the VM (`-name banger-ID`, `--id banger-ID`). Anything else
 * is refused; a VMM that is already gone counts as killed.
 */
export async function killVmm(request: KillVmmRequest, tree: OwnerTree): Promise<void> {
  const { pid, startTime, vmId } = request;
  if ((await processStartTime(pid)) !== startTime) return;
  const uids = await processUids(pid);
  const argv = await processArgv(pid);
  if (uids === undefined || argv === undefined) return;
  if (!uids.every((uid) => uid === tree.uid)) {
    throw new BangerError(
      'precondition_failed',
      `killVmm: pid ${String(pid)} does not run as the owner (uid ${String(tree.uid)}): not a VMM this helper started`,
    );
  }
  if (!argv.includes(`banger-${vmId}`)) {
    throw new BangerError(
      'precondition_failed',
      `killVmm: pid ${String(pid)} is not the VMM of VM ${vmId}`,
    );
  }
  const stat = await fs.readFile(`/proc/${String(pid)}/stat`, 'utf8').catch(() => '');
  const pgrp = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[2]);
  const signal = (target: number): boolean => {
    try {
      process.kill(target, 'SIGKILL');
      return true;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ESRCH') return false;
      throw err;
    }
  };
  // Its process group holds only what it spawned (it was started in its own session).
  if (!(pgrp === pid && signal(-pid))) signal(pid);
  const deadline = Date.now() + 10_000;
  while ((await processStartTime(pid)) === startTime) {
    if (Date.now() > deadline)
      throw new BangerError('timeout', `VMM pid ${String(pid)} was still alive 10 s after SIGKILL`);
    await sleep(10);
  }
}
