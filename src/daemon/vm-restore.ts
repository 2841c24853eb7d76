/**
 * Starting a VM from a saved guest (a warm template or a snapshot) instead of booting it: the
 * same launch as a boot plus the saved state, then, before the VM counts as ready, its own
 * identity through the agent (RESTORE): the host's clock, fresh entropy and a forced reseed,
 * its hostname, machine-id, MAC and address, resolvers, and an SSH host key banger makes and
 * pins. Either the VM comes back live and itself, or nothing it started is left.
 */
import { randomBytes } from 'node:crypto';
import { BangerError, type ProgressSink } from '../base/index.js';
import { generateSshHostKey } from '../guest/index.js';
import { RestorePart, type RestorePayload } from '../protocol/index.js';
import type { VmRecord } from '../store/index.js';
import type { SavedVmState } from '../vmm/index.js';
import type { AgentSession, BootNetwork } from './ports.js';
import { launchDifference, launchShape } from './saved-manifest.js';
import { prepareLaunch, waitForAgent, type BootDeps, type LiveVm } from './vm-boot.js';
import {
  makeVmDirs,
  removeRuntimeDir,
  writeHandles,
  writeLaunchShape,
  type VmPaths,
} from './vm-files.js';

export interface RestoreSource {
  saved: SavedVmState;
  /** launchShape() of the saved VM: this VM's launch must be the same. */
  launch: string;
  /** "warm template ID" / "snapshot NAME", for messages. */
  label: string;
}

export interface RestoredVm extends LiveVm {
  /** The SSH host key the guest now has (banger made it), when the image has OpenSSH. */
  sshHostKey?: { type: string; blob: string } | undefined;
}

/** Bytes of host randomness given to each restored guest (credited, then a reseed). */
const ENTROPY_BYTES = 64;

export async function restoreVm(
  vm: VmRecord,
  paths: VmPaths,
  source: RestoreSource,
  deps: BootDeps,
  options: { progress: ProgressSink; signal?: AbortSignal | undefined },
): Promise<RestoredVm> {
  const restoreState = deps.backend.restoreState?.bind(deps.backend);
  if (!restoreState) {
    throw new BangerError('unavailable', `the ${deps.backend.kind} backend cannot restore guests`);
  }
  const t0 = performance.now();
  const { spec, net } = await prepareLaunch(vm, paths, deps);
  const differs = launchDifference(source.launch, launchShape(spec));
  if (differs !== undefined) {
    throw new BangerError(
      'precondition_failed',
      `${source.label} was saved with another launch than VM ${vm.name} gets (${differs} differs)`,
      { details: { launchDiffers: differs } },
    );
  }
  await makeVmDirs(paths);
  options.progress({ step: 'restore', message: `restoring ${vm.name} from ${source.label}` });
  const t1 = performance.now();
  const instance = await restoreState(
    spec,
    source.saved,
    options.signal ? { signal: options.signal } : {},
  );
  try {
    const t2 = performance.now();
    await writeHandles(paths, instance.handles);
    await writeLaunchShape(paths, launchShape(spec));
    const agent = await waitForAgent(vm, paths, instance, deps, options.signal);
    const t3 = performance.now();
    requireRestore(agent, `VM ${vm.name}`);
    const key = generateSshHostKey();
    const done = await agent.restore?.(identityFor(vm, net, key), { timeoutMs: 15_000 });
    if (!done) throw new BangerError('internal', 'the agent lost its restore capability');
    if (done.failed !== 0) {
      throw new BangerError(
        'operation_failed',
        `VM ${vm.name} was restored from ${source.label} but could not take its own identity: ${done.failures.join('; ')}`,
        { hint: `guest console log: ${paths.consoleLog}` },
      );
    }
    deps.logger.info('vm restored', {
      vm: vm.name,
      from: source.label,
      prepareMs: Math.round(t1 - t0),
      restoreMs: Math.round(t2 - t1),
      agentMs: Math.round(t3 - t2),
      identityMs: Math.round(performance.now() - t3),
    });
    return {
      instance,
      agent,
      sshHostKey: (done.applied & RestorePart.sshHostKey) !== 0 ? key.publicKey : undefined,
    };
  } catch (err) {
    await instance.kill().catch((killError: unknown) => {
      deps.logger.warn('kill after failed restore failed', {
        vm: vm.name,
        error: String(killError),
      });
    });
    await removeRuntimeDir(paths);
    throw err;
  }
}

/** What a restored guest must become: this VM, not the one that was saved. */
export function identityFor(
  vm: VmRecord,
  net: BootNetwork | undefined,
  key: { privateKey: string; publicLine: string },
): Omit<RestorePayload, 'requestId'> {
  const request: Omit<RestorePayload, 'requestId'> = {
    timeNs: BigInt(Date.now()) * 1_000_000n,
    entropy: randomBytes(ENTROPY_BYTES),
    hostname: vm.name,
    machineId: randomBytes(16).toString('hex'),
    sshHostKey: { privateKey: key.privateKey, publicKey: key.publicLine },
  };
  const nic = net?.nics[0];
  if (nic !== undefined) {
    // The same values banger-init reads from the kernel command line at a boot.
    const arg = (key: string): string | undefined =>
      net?.kernelArgs.find((a) => a.startsWith(`${key}=`))?.slice(key.length + 1);
    const address = arg('banger.ip');
    const gateway = arg('banger.gw');
    request.network = {
      mac: nic.mac,
      ...(address !== undefined ? { address } : {}),
      ...(gateway !== undefined ? { gateway } : {}),
    };
    const dns = arg('banger.dns');
    if (dns !== undefined) request.dns = dns.split(',').filter((d) => d !== '');
  }
  return request;
}

/** The clock only: for a guest that was stopped for a while (a pause, a snapshot's source). */
export function clockOnly(): Omit<RestorePayload, 'requestId'> {
  return { timeNs: BigInt(Date.now()) * 1_000_000n };
}

export function requireRestore(agent: AgentSession, what: string): void {
  if (agent.restore === undefined || !(agent.capabilities ?? []).includes('restore')) {
    throw new BangerError(
      'precondition_failed',
      `the guest agent of ${what} (${agent.agentVersion ?? 'unknown'}) cannot take a new identity after a restore (capability "restore")`,
      { hint: 'rebuild or re-register the image with this version of banger' },
    );
  }
}
