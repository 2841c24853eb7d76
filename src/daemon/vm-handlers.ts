/** RPC methods of the `vm` noun: validate params, call the VM service, shape the result. */
import type { RpcCall } from '../ipc/index.js';
import {
  parseNoParams,
  parseVmCreateParams,
  parseVmExecParams,
  parseVmRefParams,
  parseVmLogsParams,
  parseVmRunParams,
  parseVmSetParams,
  asObject,
  onlyKeys,
  strArray,
  fail,
} from '../protocol/index.js';
import type { ExecIo } from './vm-exec.js';
import type { VmService } from './vm-service.js';
import type { WorkspaceService } from './workspace-service.js';

export type Handler = (call: RpcCall) => Promise<unknown>;

function execIo(call: RpcCall, forwardStdin: boolean): ExecIo {
  return {
    stdin: forwardStdin ? call.stdin : undefined,
    stdout: call.stdout,
    stderr: call.stderr,
    onControl: (listener) => call.onControl(listener),
    signal: call.signal,
  };
}

/** `workspaces` takes `vm run PATH` and puts `vm exec` in a VM's workspace. */
export function vmHandlers(vms: VmService, workspaces?: WorkspaceService): Record<string, Handler> {
  const ctx = (call: RpcCall) => ({
    progress: call.progress,
    notice: call.notice,
    signal: call.signal,
  });
  return {
    'vm.run': async (call) => {
      const params = parseVmRunParams(call.params);
      const io = execIo(call, params.exec.stdin);
      const { workspace } = params;
      if (workspace && workspaces) return workspaces.run({ ...params, workspace }, io, ctx(call));
      return vms.run(params, io, ctx(call));
    },
    'vm.create': async (call) =>
      vms.info(await vms.create(parseVmCreateParams(call.params), ctx(call))),
    'vm.start': async (call) =>
      vms.info(await vms.start(parseVmRefParams(call.params).ref, ctx(call))),
    'vm.stop': async (call) => vms.info(await vms.stop(parseVmRefParams(call.params).ref)),
    'vm.restart': async (call) => {
      const { ref } = parseVmRefParams(call.params);
      await vms.stop(ref);
      return vms.info(await vms.start(ref, ctx(call)));
    },
    'vm.kill': async (call) => vms.info(await vms.kill(parseVmRefParams(call.params).ref)),
    'vm.delete': async (call) => vms.delete(parseVmRefParams(call.params).ref),
    'vm.exec': async (call) => {
      const params = parseVmExecParams(call.params);
      const exec = workspaces ? await workspaces.execSpec(params, ctx(call)) : params.exec;
      return { exit: await vms.exec(params.ref, exec, execIo(call, exec.stdin)) };
    },
    'vm.list': (call) => {
      parseNoParams(call.params);
      return Promise.resolve(vms.list());
    },
    'vm.show': (call) => Promise.resolve(vms.show(parseVmRefParams(call.params).ref)),
    'vm.set': async (call) => {
      const { ref, ...changes } = parseVmSetParams(call.params);
      return vms.info(await vms.set(ref, changes));
    },
    'vm.prune': async (call) => {
      const obj = asObject(call.params, 'params');
      onlyKeys(obj, ['ids'], 'params');
      const ids = strArray(obj, 'ids', 'params', 10_000);
      for (const id of ids)
        if (!/^[0-9a-f]{12}$/.test(id)) throw fail('params.ids', 'must hold VM ids', id);
      return vms.prune(ids);
    },
    'vm.stats': async (call) => {
      parseNoParams(call.params);
      return vms.stats();
    },
    'vm.logs': async (call) => {
      const { ref, follow } = parseVmLogsParams(call.params);
      await vms.logs(ref, call.stdout, { follow, signal: call.signal });
      return null;
    },
  };
}
