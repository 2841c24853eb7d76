/**
 * Workspace mode on the wire: what to ship (a host repository, where it lands in the guest),
 * the dry-run plan, the record of what was shipped, and the validators the daemon runs on
 * every request before it reads a host file or starts a VM.
 */
import { asObject, bool, fail, onlyKeys, optStr, str, type Fields } from './validate.js';
import { VM_REF_PATTERN } from './names.js';

export const DEFAULT_GUEST_PATH = '/root/repo';

export interface WorkspaceSpec {
  /** Absolute host path of (a directory in) a git work tree. */
  path: string;
  /** Where the repository lands in the guest (default /root/repo). */
  guestPath?: string;
  /** Ship untracked files that are not ignored, too. */
  includeUntracked: boolean;
  /** Create (and check out) this branch in the guest only. */
  branch?: string;
  /** Start `branch` at this host commit-ish: the guest gets that commit's files. */
  from?: string;
}

export interface WorkspaceFileInfo {
  path: string;
  kind: 'file' | 'symlink';
  size: number;
  /** tracked | untracked | submodule | commit (the files of --from) */
  origin: string;
}

/** What a workspace ship would send (`--dry-run`), computed exactly as a real ship does. */
export interface WorkspacePlanInfo {
  /** "tracked", "tracked+untracked", "commit" or "commit+untracked". */
  mode: string;
  hostPath: string;
  /** Top level of the host work tree (what ships). */
  repoRoot: string;
  guestPath: string;
  /** Where commands run: the guest path plus the given path's place in the repository. */
  workdir: string;
  head: string | null;
  branch: string | null;
  guestBranch: string | null;
  from: { ref: string; commit: string } | null;
  files: WorkspaceFileInfo[];
  totalBytes: number;
  /** Tracked files missing from the host's work tree (deleted in the guest as well). */
  removed: string[];
  skipped: { untracked: number; ignored: number; nestedRepos: string[]; special: string[] };
}

/** What a VM's workspace is: the record of its last ship. */
export interface WorkspaceInfo {
  vm: string;
  hostPath: string;
  guestPath: string;
  workdir: string;
  /** Host HEAD when it shipped (null: no commits yet). */
  head: string | null;
  /** The guest commit holding the work tree as shipped (the base of `workspace export`). */
  shipCommit: string;
  guestBranch: string | null;
  from: string | null;
  includeUntracked: boolean;
  files: number;
  bytes: number;
  shippedAt: string;
}

export interface WorkspacePrepareResult {
  workspace: WorkspaceInfo;
  plan: WorkspacePlanInfo;
  /** Bytes sent over the agent channel (the packed history, submodule files). */
  sentBytes: number;
  seconds: number;
}

export interface WorkspaceExportResult {
  bytes: number;
  base: string;
}

const GUEST_SYSTEM_DIRS = ['proc', 'sys', 'dev', 'boot', 'etc', 'bin', 'sbin', 'usr', 'var', 'run'];

export const GUEST_PATH_RULE =
  'must be an absolute, normalised path at least two levels deep (e.g. /root/repo), ' +
  'outside /proc, /sys, /dev, /boot, /etc, /bin, /sbin, /lib*, /usr, /var and /run';

/** True when `value` is a guest directory banger may create and replace a workspace in. */
export function isGuestWorkspacePath(value: string): boolean {
  if (value.length > 1024 || !value.startsWith('/') || /[\0\n]/.test(value)) return false;
  const parts = value.slice(1).split('/');
  if (parts.length < 2) return false;
  if (parts.some((p) => p === '' || p === '.' || p === '..')) return false;
  const top = parts[0] ?? '';
  return !GUEST_SYSTEM_DIRS.includes(top) && !top.startsWith('lib');
}

/** git branch names: checked again by `git check-ref-format --branch` on the host. */
const BRANCH_PATTERN = /^(?!-)(?!.*\.\.)(?!.*\/\/)[A-Za-z0-9._/+-]{1,200}$/;
/** A commit-ish: resolved by git on the host; never an option. */
const REF_PATTERN = /^(?!-)[^\0\s]{1,256}$/;

export function parseWorkspaceSpec(value: unknown, field: string): WorkspaceSpec {
  const obj = asObject(value, field);
  onlyKeys(obj, ['path', 'guestPath', 'includeUntracked', 'branch', 'from'], field);
  const spec: WorkspaceSpec = {
    path: str(obj, 'path', field, /^\/[^\0]{0,4095}$/, 'must be an absolute host path'),
    includeUntracked: bool(obj, 'includeUntracked', field, false),
  };
  const guestPath = optStr(obj, 'guestPath', field);
  if (guestPath !== undefined) {
    if (!isGuestWorkspacePath(guestPath))
      throw fail(`${field}.guestPath`, GUEST_PATH_RULE, guestPath);
    spec.guestPath = guestPath;
  }
  const branch = optStr(obj, 'branch', field, BRANCH_PATTERN, 'must be a git branch name');
  if (branch !== undefined) spec.branch = branch;
  const from = optStr(
    obj,
    'from',
    field,
    REF_PATTERN,
    'must be a git commit-ish (no spaces, not starting with -)',
  );
  if (from !== undefined) {
    if (branch === undefined)
      throw fail(`${field}.from`, 'needs a branch (--branch NAME --from REF)');
    spec.from = from;
  }
  return spec;
}

/** The optional `workspace` of `vm.run`. */
export function parseOptionalWorkspace(obj: Fields, field: string): WorkspaceSpec | undefined {
  return obj.workspace === undefined || obj.workspace === null
    ? undefined
    : parseWorkspaceSpec(obj.workspace, `${field}.workspace`);
}

export interface WorkspacePlanParams {
  workspace: WorkspaceSpec;
}

export interface WorkspacePrepareParams {
  ref: string;
  workspace: WorkspaceSpec;
  /** Replace a guest copy that has changes of its own. */
  force: boolean;
}

export interface WorkspaceExportParams {
  ref: string;
  /** Diff from this guest commit-ish instead of the work tree as shipped. */
  baseCommit?: string;
}

const VM_REF_RULE = 'must be a VM name or id prefix';

export function parseWorkspacePlanParams(value: unknown): WorkspacePlanParams {
  const obj = asObject(value, 'params');
  onlyKeys(obj, ['workspace'], 'params');
  return { workspace: parseWorkspaceSpec(obj.workspace, 'params.workspace') };
}

export function parseWorkspacePrepareParams(value: unknown): WorkspacePrepareParams {
  const obj = asObject(value, 'params');
  onlyKeys(obj, ['ref', 'workspace', 'force'], 'params');
  return {
    ref: str(obj, 'ref', 'params', VM_REF_PATTERN, VM_REF_RULE),
    workspace: parseWorkspaceSpec(obj.workspace, 'params.workspace'),
    force: bool(obj, 'force', 'params', false),
  };
}

export function parseWorkspaceExportParams(value: unknown): WorkspaceExportParams {
  const obj = asObject(value, 'params');
  onlyKeys(obj, ['ref', 'baseCommit'], 'params');
  const out: WorkspaceExportParams = {
    ref: str(obj, 'ref', 'params', VM_REF_PATTERN, VM_REF_RULE),
  };
  const base = optStr(
    obj,
    'baseCommit',
    'params',
    REF_PATTERN,
    'must be a git commit-ish (no spaces, not starting with -)',
  );
  if (base !== undefined) out.baseCommit = base;
  return out;
}
