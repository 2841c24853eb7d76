/**
 * bangerd-root's closed table of operations. Each entry parses its request completely (only
 * known keys; names against banger's patterns; addresses parsed; numbers bounded; paths under
 * banger's roots; this install's namespace only) before anything happens, then acts through
 * the in-process network operations or the helper's VMM operations, which build every argv
 * themselves. An operation that is not in the table is refused by name.
 */
import { BangerError } from '../base/index.js';
import {
  checkCreateTap,
  checkDeleteTap,
  checkEnsureBridge,
  checkNetProcessSpec,
  checkRemoveNetwork,
  checkSyncNat,
  isTapName,
  isSameProcess,
} from '../network/index.js';
import {
  asObject,
  fail,
  HELPER_OPS,
  int,
  isHelperOp,
  onlyKeys,
  type CreateTapRequest,
  type DeleteTapRequest,
  type EnsureBridgeRequest,
  type HelperHello,
  type HelperOp,
  type NetProcessHandle,
  type NetProcessSpec,
  type NetworkOps,
  type RemoveNetworkRequest,
  type SyncNatRequest,
} from '../protocol/index.js';
import { checkOwnerPath, type OwnerTree } from './owner-files.js';
import {
  killVmm,
  launchVmm,
  parseKillVmm,
  parseLaunchVmm,
  parseReleaseVmm,
  processUids,
  type HelperVmmOptions,
} from './vmm-ops.js';
import { promises as fs } from 'node:fs';

export interface HelperContext {
  hello: HelperHello;
  tree: OwnerTree;
  /** This install's network namespace: the only one any request may name. */
  netns: string;
  /** In-process network operations, configured for the helper (tap owner, safe log opens). */
  network: NetworkOps;
  vmm: HelperVmmOptions;
  /** The DNS relay program (its argv names it; stopNetProcess checks that). */
  relayScript: string;
}

export type OpHandler = (params: unknown) => Promise<unknown>;

function ownNetns(value: unknown, field: string, ctx: HelperContext): string | undefined {
  if (value === undefined) return undefined;
  if (value !== ctx.netns)
    throw fail(field, `must be this install's network namespace ${ctx.netns}`, value);
  return ctx.netns;
}

function request(params: unknown, op: string, keys: readonly string[]): Record<string, unknown> {
  const obj = asObject(params ?? {}, op);
  onlyKeys(obj, keys, op);
  return obj;
}

function tap(value: unknown, field: string): string {
  if (typeof value !== 'string' || !isTapName(value))
    throw fail(field, 'must be a banger tap name: "bg-" + 12 hex digits', value);
  return value;
}

export function parseNetProcessSpec(params: unknown, ctx: HelperContext): NetProcessSpec {
  const obj = asObject(params, 'startNetProcess');
  const keys =
    obj.kind === 'dns-relay'
      ? ['kind', 'netns', 'listen', 'socketPath', 'logPath']
      : ['kind', 'netns', 'ifname', 'address', 'gateway', 'dnsForward', 'logPath'];
  onlyKeys(obj, keys, 'startNetProcess');
  ownNetns(obj.netns, 'startNetProcess.netns', ctx);
  const spec = checkNetProcessSpec(obj as unknown as NetProcessSpec, ctx.tree.roots);
  checkOwnerPath(spec.logPath, 'startNetProcess.logPath', ctx.tree);
  if (spec.kind === 'dns-relay')
    checkOwnerPath(spec.socketPath, 'startNetProcess.socketPath', ctx.tree);
  return spec;
}

export function parseNetProcessHandle(params: unknown, op: string): NetProcessHandle {
  const obj = request(params, op, ['kind', 'pid', 'startTime']);
  if (obj.kind !== 'dns-relay' && obj.kind !== 'uplink')
    throw fail(`${op}.kind`, 'must be "dns-relay" or "uplink"', obj.kind);
  return {
    kind: obj.kind,
    pid: int(obj, 'pid', op, 2, 0x3fffffff),
    startTime: int(obj, 'startTime', op, 0, Number.MAX_SAFE_INTEGER),
  };
}

/** Only a process that is what the handle says (banger's relay, or pasta for this namespace). */
async function isOurNetProcess(handle: NetProcessHandle, ctx: HelperContext): Promise<boolean> {
  if (!(await isSameProcess(handle))) return false;
  const raw = await fs.readFile(`/proc/${String(handle.pid)}/cmdline`).catch(() => undefined);
  const argv = raw?.toString('utf8').split('\0') ?? [];
  if (handle.kind === 'dns-relay') {
    const uids = await processUids(handle.pid);
    return (
      argv.includes(ctx.relayScript) &&
      uids !== undefined &&
      uids.every((uid) => uid === ctx.tree.uid || uid === 0)
    );
  }
  return /(^|\/)pasta(\.avx2)?$/.test(argv[0] ?? '') && argv.includes(`/run/netns/${ctx.netns}`);
}

export function createOpTable(ctx: HelperContext): Record<HelperOp, OpHandler> {
  const net = ctx.network;
  return {
    hello: async (params) => {
      request(params, 'hello', []);
      return Promise.resolve(ctx.hello);
    },
    ensureBridge: async (params) => {
      const obj = request(params, 'ensureBridge', ['netns', 'bridge', 'gateway']);
      ownNetns(obj.netns, 'ensureBridge.netns', ctx);
      await net.ensureBridge(checkEnsureBridge(obj as unknown as EnsureBridgeRequest));
    },
    removeNetwork: async (params) => {
      const obj = request(params, 'removeNetwork', ['netns', 'bridge']);
      ownNetns(obj.netns, 'removeNetwork.netns', ctx);
      await net.removeNetwork(checkRemoveNetwork(obj as unknown as RemoveNetworkRequest));
    },
    createTap: async (params) => {
      const obj = request(params, 'createTap', ['netns', 'bridge', 'tap']);
      ownNetns(obj.netns, 'createTap.netns', ctx);
      const req = checkCreateTap(obj as unknown as CreateTapRequest);
      tap(req.tap, 'createTap.tap');
      await net.createTap(req);
    },
    deleteTap: async (params) => {
      const obj = request(params, 'deleteTap', ['netns', 'tap']);
      ownNetns(obj.netns, 'deleteTap.netns', ctx);
      const req = checkDeleteTap(obj as unknown as DeleteTapRequest);
      tap(req.tap, 'deleteTap.tap');
      await net.deleteTap(req);
    },
    listLinks: async (params) => {
      const obj = request(params, 'listLinks', ['netns']);
      return net.listLinks({ netns: ownNetns(obj.netns, 'listLinks.netns', ctx) });
    },
    syncNat: async (params) => {
      const obj = request(params, 'syncNat', ['netns', 'bridge', 'uplink', 'sources']);
      ownNetns(obj.netns, 'syncNat.netns', ctx);
      if (Array.isArray(obj.sources)) {
        obj.sources.forEach((s, i) =>
          request(s, `syncNat.sources[${String(i)}]`, ['vmId', 'address']),
        );
      }
      await net.syncNat(checkSyncNat(obj as unknown as SyncNatRequest));
    },
    startNetProcess: async (params) => net.startNetProcess(parseNetProcessSpec(params, ctx)),
    stopNetProcess: async (params) => {
      const handle = parseNetProcessHandle(params, 'stopNetProcess');
      if (!(await isSameProcess(handle))) return;
      if (!(await isOurNetProcess(handle, ctx))) {
        throw new BangerError(
          'precondition_failed',
          `stopNetProcess: pid ${String(handle.pid)} is not banger's ${handle.kind} process`,
        );
      }
      await net.stopNetProcess(handle);
    },
    netProcessAlive: async (params) =>
      isOurNetProcess(parseNetProcessHandle(params, 'netProcessAlive'), ctx),
    launchVmm: async (params) => launchVmm(parseLaunchVmm(params, ctx), ctx.vmm),
    killVmm: async (params) => killVmm(parseKillVmm(params), ctx.tree),
    releaseVmm: async (params) => {
      // The helper starts Firecracker without the jailer: nothing is left to release.
      parseReleaseVmm(params);
      return Promise.resolve();
    },
  };
}

/** Looks the method up in the closed table; anything else is refused by name. */
export function dispatcher(
  table: Record<HelperOp, OpHandler>,
): (method: string, params: unknown) => Promise<unknown> {
  return async (method, params) => {
    if (!isHelperOp(method)) {
      throw new BangerError(
        'bad_request',
        `bangerd-root has no operation ${JSON.stringify(method.slice(0, 80))}: it performs only ${HELPER_OPS.join(', ')}`,
      );
    }
    return table[method](params);
  };
}
