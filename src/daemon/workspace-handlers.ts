/** RPC methods of `vm workspace`: plan (dry run), prepare, export, show. */
import type { RpcCall } from '../ipc/index.js';
import {
  parseVmRefParams,
  parseWorkspaceExportParams,
  parseWorkspacePlanParams,
  parseWorkspacePrepareParams,
} from '../protocol/index.js';
import type { Handler } from './vm-handlers.js';
import type { WorkspaceService } from './workspace-service.js';

export function workspaceHandlers(workspaces: WorkspaceService): Record<string, Handler> {
  const ctx = (call: RpcCall) => ({
    progress: call.progress,
    notice: call.notice,
    signal: call.signal,
  });
  return {
    'vm.workspace.plan': async (call) =>
      workspaces.plan(parseWorkspacePlanParams(call.params).workspace, ctx(call)),
    'vm.workspace.prepare': async (call) =>
      workspaces.prepare(parseWorkspacePrepareParams(call.params), ctx(call)),
    'vm.workspace.export': async (call) =>
      workspaces.export(parseWorkspaceExportParams(call.params), call.stdout, ctx(call)),
    'vm.workspace.show': (call) =>
      Promise.resolve(workspaces.show(parseVmRefParams(call.params).ref)),
  };
}
