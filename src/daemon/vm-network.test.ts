import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { silentLogger } from '../base/index.js';
import { DEFAULT_CONFIG, resolveLayout } from '../config/index.js';
import { DnsZone } from '../dns/index.js';
import type {
  CreateTapRequest,
  DeleteTapRequest,
  EnsureBridgeRequest,
  NetProcessHandle,
  NetProcessSpec,
  NetworkOps,
  RemoveNetworkRequest,
  SyncNatRequest,
} from '../protocol/index.js';
import { NetworkLeases, openDatabase, VmRecords, type VmRecord } from '../store/index.js';
import type { AgentSession } from './ports.js';
import { VmNetwork } from './vm-network.js';

/** NetworkOps that records what it was asked, in order, and changes nothing. */
class RecordingOps implements NetworkOps {
  readonly calls: string[] = [];
  readonly natRequests: SyncNatRequest[] = [];
  /** syncNat calls still to fail (the next N). */
  failNat = 0;
  private pid = 1000;

  ensureBridge(request: EnsureBridgeRequest): Promise<void> {
    this.calls.push(`ensureBridge ${request.bridge}`);
    return Promise.resolve();
  }
  removeNetwork(request: RemoveNetworkRequest): Promise<void> {
    this.calls.push(`removeNetwork ${request.bridge}`);
    return Promise.resolve();
  }
  createTap(request: CreateTapRequest): Promise<void> {
    this.calls.push(`createTap ${request.tap}`);
    return Promise.resolve();
  }
  deleteTap(request: DeleteTapRequest): Promise<void> {
    this.calls.push(`deleteTap ${request.tap}`);
    return Promise.resolve();
  }
  listLinks(): Promise<string[]> {
    return Promise.resolve([]);
  }
  syncNat(request: SyncNatRequest): Promise<void> {
    this.calls.push(`syncNat [${request.sources.map((s) => s.vmId).join(',')}]`);
    this.natRequests.push(request);
    if (this.failNat > 0) {
      this.failNat--;
      return Promise.reject(new Error('nft: Operation not permitted'));
    }
    return Promise.resolve();
  }
  startNetProcess(spec: NetProcessSpec): Promise<NetProcessHandle> {
    this.calls.push(`start ${spec.kind}`);
    return Promise.resolve({ kind: spec.kind, pid: this.pid++, startTime: 1 });
  }
  stopNetProcess(handle: NetProcessHandle): Promise<void> {
    this.calls.push(`stop ${handle.kind}`);
    return Promise.resolve();
  }
  netProcessAlive(): Promise<boolean> {
    return Promise.resolve(true);
  }
}

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function setup() {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'bg-vmnet-'));
  dirs.push(dir);
  const layout = resolveLayout({
    env: {
      XDG_STATE_HOME: path.join(dir, 'state'),
      XDG_CONFIG_HOME: path.join(dir, 'config'),
      XDG_RUNTIME_DIR: path.join(dir, 'run'),
    },
    home: dir,
  });
  const db = openDatabase(path.join(dir, 'db'));
  const records = new VmRecords(db);
  const ops = new RecordingOps();
  const network = new VmNetwork({
    layout,
    config: () => DEFAULT_CONFIG,
    ops,
    leases: new NetworkLeases(db),
    zone: new DnsZone(),
    logger: silentLogger,
    readRoutes: () => Promise.resolve([]),
    readNameservers: () => Promise.resolve([]),
  });
  const vm = (id: string, nat: boolean): VmRecord => {
    const record = records.insert({
      id,
      name: `vm-${id.slice(-1)}`,
      state: 'stopped',
      image: 'i',
      kernel: 'k',
      backend: 'qemu',
      vcpus: 1,
      memoryMib: 64,
      diskBytes: 1,
      autoRemove: false,
    });
    network.reserve(record, { nat });
    return record;
  };
  // What the daemon does at start: read the saved state, adopt VMs (none here), sweep.
  const start = async (): Promise<void> => {
    await network.init();
    await network.sweep();
  };
  // A boot that gets as far as the VM counting as started.
  const boot = async (...vms: VmRecord[]): Promise<void> => {
    for (const v of vms) {
      await network.prepareBoot(v);
      await network.started(v, noAgent);
    }
  };
  return { network, ops, vm, start, boot };
}

// Without autoForward (not configured here) started() never touches the agent.
const noAgent = {} as AgentSession;

describe('VmNetwork', () => {
  it('syncs NAT beside the boot, after the tap, so started() has nothing left to do', async () => {
    const { network, ops, vm, start } = setup();
    const a = vm('a1b2c3d4e5f6', true);
    await start();
    await network.prepareBoot(a);
    const beforeStarted = [
      'ensureBridge bgbr0',
      'start dns-relay',
      'createTap bg-a1b2c3d4e5f6',
      'start uplink',
      'syncNat [a1b2c3d4e5f6]',
    ];
    // The guest boots meanwhile: the sync comes without started().
    await vi.waitFor(() => expect(ops.calls).toEqual(beforeStarted));
    await network.started(a, noAgent);
    expect(ops.calls).toEqual(beforeStarted);
  });

  it('syncs again in started() when the boot-time sync failed', async () => {
    const { network, ops, vm, start } = setup();
    const a = vm('a1b2c3d4e5f6', false);
    await start();
    ops.failNat = 1;
    await network.prepareBoot(a); // the failed sync is not the boot's error...
    await network.started(a, noAgent); // ...but started() must not pass without rules
    expect(ops.calls.filter((c) => c.startsWith('syncNat'))).toEqual(['syncNat []', 'syncNat []']);
  });

  it('re-applies the table at every boot, even when nothing changed', async () => {
    const { ops, vm, start, boot } = setup();
    const [a, b] = [vm('a1b2c3d4e5f6', false), vm('0f1e2d3c4b5a', false)];
    await start();
    await boot(a, b);
    expect(ops.calls.filter((c) => c.startsWith('syncNat'))).toEqual(['syncNat []', 'syncNat []']);
  });

  it('runs no nft when a VM without NAT stops, and drops the rules when a NAT VM stops', async () => {
    const { network, ops, vm, start, boot } = setup();
    const [a, b] = [vm('a1b2c3d4e5f6', false), vm('0f1e2d3c4b5a', true)];
    await start();
    await boot(a, b);
    ops.calls.length = 0;
    await network.detach(a);
    expect(ops.calls).toEqual(['deleteTap bg-a1b2c3d4e5f6']);
    await network.detach(b);
    expect(ops.calls).toEqual([
      'deleteTap bg-a1b2c3d4e5f6',
      'deleteTap bg-0f1e2d3c4b5a',
      'syncNat []',
      'stop uplink',
    ]);
  });

  it('deletes a tap once when a VM is detached twice (its stop hook, then delete)', async () => {
    const { network, ops, vm, start, boot } = setup();
    const a = vm('a1b2c3d4e5f6', false);
    await start();
    await boot(a);
    ops.calls.length = 0;
    await Promise.all([network.detach(a), network.detach(a)]);
    expect(ops.calls).toEqual(['deleteTap bg-a1b2c3d4e5f6']);
  });

  it('detaches a boot that failed before started(): its tap goes', async () => {
    const { network, ops, vm, start } = setup();
    const a = vm('a1b2c3d4e5f6', false);
    await start();
    await network.prepareBoot(a);
    ops.calls.length = 0;
    await network.detach(a);
    expect(ops.calls).toEqual(['deleteTap bg-a1b2c3d4e5f6']);
  });
});
