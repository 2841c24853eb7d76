/**
 * Workspace mode: ship a host repository into a VM (with `vm run PATH`, or into a running VM
 * with `vm workspace prepare`), run commands in it, warn when the host moved on, and export
 * the guest's changes as a patch. The preflight and the file list come first, before any VM
 * exists; what shipped is recorded per VM.
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import type { Writable } from 'node:stream';
import { BangerError, type Logger } from '../base/index.js';
import type { Layout } from '../config/index.js';
import type {
  ExecSpec,
  VmExecParams,
  VmRunParams,
  VmRunResult,
  WorkspaceExportParams,
  WorkspaceExportResult,
  WorkspaceInfo,
  WorkspacePlanInfo,
  WorkspacePrepareParams,
  WorkspacePrepareResult,
  WorkspaceSpec,
} from '../protocol/index.js';
import type { VmRecord, WorkspaceRecord, WorkspaceRecords } from '../store/index.js';
import {
  gitText,
  planInfo,
  planWorkspace,
  shipToGuest,
  skippedNotice,
  stageHistory,
  writeGuestPatch,
  type GuestShell,
  type WorkspacePlan,
} from '../workspace/index.js';
import { KeyedMutex } from './keyed-mutex.js';
import type { ExecIo } from './vm-exec.js';
import type { CallContext, VmService } from './vm-service.js';
import { guestShellFor } from './workspace-guest.js';

export interface WorkspaceServiceDeps {
  layout: Layout;
  vms: VmService;
  records: WorkspaceRecords;
  logger: Logger;
}

export class WorkspaceService {
  private readonly locks = new KeyedMutex();

  constructor(private readonly deps: WorkspaceServiceDeps) {}

  /** `--dry-run`: exactly what a ship would send; no VM is made or touched. */
  async plan(spec: WorkspaceSpec, ctx: CallContext): Promise<WorkspacePlanInfo> {
    return planInfo(await planWorkspace(spec, { signal: ctx.signal }));
  }

  /** `vm run PATH`: preflight first, then create and start, ship, and run in the workspace. */
  async run(
    params: VmRunParams & { workspace: WorkspaceSpec },
    io: ExecIo,
    ctx: CallContext,
  ): Promise<VmRunResult> {
    const plan = await planWorkspace(params.workspace, { signal: ctx.signal });
    this.noticeSkipped(plan, ctx);
    const exec: ExecSpec = params.exec.cwd ? params.exec : { ...params.exec, cwd: plan.workdir };
    return this.deps.vms.run({ ...params, exec }, io, ctx, {
      beforeExec: async (vm) => {
        await this.ship(vm, plan, { force: false }, ctx);
      },
    });
  }

  /** `vm workspace prepare`: ship into a running VM, replacing its previous copy. */
  async prepare(params: WorkspacePrepareParams, ctx: CallContext): Promise<WorkspacePrepareResult> {
    const { vm } = this.deps.vms.liveAgent(params.ref);
    const plan = await planWorkspace(params.workspace, { signal: ctx.signal });
    this.noticeSkipped(plan, ctx);
    return this.ship(vm, plan, { force: params.force }, ctx);
  }

  /** `vm workspace export`: the guest's changes as a patch, written to `out`. */
  async export(
    params: WorkspaceExportParams,
    out: Writable,
    ctx: CallContext,
  ): Promise<WorkspaceExportResult> {
    const { vm } = this.deps.vms.liveAgent(params.ref);
    const record = this.requireRecord(vm);
    return this.locks.run(vm.id, async () => {
      const shell = this.shell(vm, ctx);
      const result = await writeGuestPatch(shell, record.guestPath, {
        base: params.baseCommit,
        out,
      });
      return { bytes: result.bytes, base: params.baseCommit ?? record.shipCommit };
    });
  }

  show(ref: string): WorkspaceInfo | null {
    const vm = this.deps.vms.resolve(ref);
    const record = this.deps.records.byVm(vm.id);
    return record ? toInfo(vm, record) : null;
  }

  /**
   * The exec spec for `vm exec`: in the workspace when the VM has one (unless -w), with a
   * warning when the host's HEAD moved since the ship, or a fresh ship with --auto-prepare.
   */
  async execSpec(params: VmExecParams, ctx: CallContext): Promise<ExecSpec> {
    const vm = this.deps.vms.resolve(params.ref);
    const record = this.deps.records.byVm(vm.id);
    if (!record) return params.exec;
    const withCwd = (workdir: string): ExecSpec =>
      params.exec.cwd ? params.exec : { ...params.exec, cwd: workdir };
    const head = await hostHead(record.hostPath, ctx.signal);
    if (head === undefined) {
      ctx.notice?.(
        `banger: warning: cannot read the host repository ${record.hostPath} any more; running in the copy shipped ${record.shippedAt}`,
      );
      return withCwd(record.workdir);
    }
    if (head === record.headCommit) return withCwd(record.workdir);
    if (!params.autoPrepare) {
      ctx.notice?.(
        `banger: warning: HEAD of ${record.hostPath} moved since it was shipped ` +
          `(${short(record.headCommit)} -> ${short(head)}); the guest has the older copy. ` +
          `Ship it again with \`banger vm workspace prepare ${vm.name} ${record.hostPath}\` or pass --auto-prepare`,
      );
      return withCwd(record.workdir);
    }
    const spec: WorkspaceSpec = {
      path: record.hostPath,
      guestPath: record.guestPath,
      includeUntracked: record.includeUntracked,
    };
    if (record.guestBranch !== null) spec.branch = record.guestBranch;
    if (record.fromRef !== null) spec.from = record.fromRef;
    const plan = await planWorkspace(spec, { signal: ctx.signal });
    this.noticeSkipped(plan, ctx);
    const shipped = await this.ship(vm, plan, { force: false }, ctx);
    ctx.notice?.(
      `banger: HEAD of ${record.hostPath} moved (${short(record.headCommit)} -> ${short(head)}); ` +
        `shipped it again (${String(shipped.plan.files.length)} files)`,
    );
    return withCwd(shipped.workspace.workdir);
  }

  private async ship(
    vm: VmRecord,
    plan: WorkspacePlan,
    options: { force: boolean },
    ctx: CallContext,
  ): Promise<WorkspacePrepareResult> {
    return this.locks.run(vm.id, async () => {
      const started = Date.now();
      ctx.progress({ step: 'workspace', message: `packing ${plan.repo.root} for ${vm.name}` });
      const scratch = await fs.mkdtemp(path.join(this.deps.layout.tmpDir, 'workspace-'));
      try {
        const staged = await stageHistory(plan, scratch, { signal: ctx.signal });
        const stagedMs = Date.now() - started;
        const shipped = await shipToGuest(this.shell(vm, ctx), plan, staged, {
          force: options.force,
          signal: ctx.signal,
          progress: ctx.progress,
          vmName: vm.name,
        });
        const record = this.deps.records.put({
          vmId: vm.id,
          hostPath: plan.spec.path,
          guestPath: plan.guestPath,
          workdir: plan.workdir,
          headCommit: plan.repo.head,
          shipCommit: staged.shipCommit,
          guestBranch: plan.guestBranch,
          fromRef: plan.from?.ref ?? null,
          includeUntracked: plan.spec.includeUntracked,
          files: plan.selection.files.length,
          bytes: plan.totalBytes,
          shippedAt: new Date().toISOString(),
        });
        const seconds = (Date.now() - started) / 1000;
        this.deps.logger.info('workspace shipped', {
          vm: vm.name,
          repo: plan.repo.root,
          files: record.files,
          sentBytes: shipped.sentBytes,
          seconds,
          stagedMs,
          ...shipped.timings,
        });
        return {
          workspace: toInfo(vm, record),
          plan: planInfo(plan),
          sentBytes: shipped.sentBytes,
          seconds,
        };
      } finally {
        await fs.rm(scratch, { recursive: true, force: true });
      }
    });
  }

  private shell(vm: VmRecord, ctx: CallContext): GuestShell {
    const signal = ctx.signal ?? new AbortController().signal;
    return guestShellFor((spec, io) => this.deps.vms.exec(vm.id, spec, io), signal);
  }

  private requireRecord(vm: VmRecord): WorkspaceRecord {
    const record = this.deps.records.byVm(vm.id);
    if (!record) {
      throw new BangerError('precondition_failed', `VM ${vm.name} has no workspace`, {
        hint: `ship one with \`banger vm workspace prepare ${vm.name} PATH\``,
      });
    }
    return record;
  }

  private noticeSkipped(plan: WorkspacePlan, ctx: CallContext): void {
    const notice = skippedNotice(plan);
    if (notice !== undefined) ctx.notice?.(notice);
  }
}

/** The host repository's HEAD now: a commit, null (no commits yet), undefined (unreadable). */
async function hostHead(
  hostPath: string,
  signal: AbortSignal | undefined,
): Promise<string | null | undefined> {
  try {
    const text = await gitText(hostPath, ['rev-parse', '-q', '--verify', 'HEAD^{commit}'], {
      signal,
      okCodes: [0, 1],
    });
    return text === '' ? null : text;
  } catch {
    return undefined;
  }
}

function short(commit: string | null): string {
  return commit === null ? '(no commits)' : commit.slice(0, 12);
}

function toInfo(vm: VmRecord, record: WorkspaceRecord): WorkspaceInfo {
  return {
    vm: vm.name,
    hostPath: record.hostPath,
    guestPath: record.guestPath,
    workdir: record.workdir,
    head: record.headCommit,
    shipCommit: record.shipCommit,
    guestBranch: record.guestBranch,
    from: record.fromRef,
    includeUntracked: record.includeUntracked,
    files: record.files,
    bytes: record.bytes,
    shippedAt: record.shippedAt,
  };
}
