/**
 * workspace: shipping a host git repository into a guest and bringing the guest's changes
 * back. Owns the preflight of the host repository, the choice of files, the staged `.git`
 * (shallow history plus a commit of the work tree as shipped), the streaming tar writer, and
 * the guest-side steps (checkout, replace, export), all through a GuestShell.
 * Must never: write to the host repository (its index and objects are only read), start or
 * stop VMs, touch the store, or run a shell command string on the host or in the guest.
 */
export { tarStream, tarHeader, type TarEntry, type TarProgress } from './tar-writer.js';
export { walkTree, type WalkedTree } from './dir-walk.js';
export { inspectRepo, type RepoFacts } from './repo-facts.js';
export { selectFiles, type Selection, type ShipFile } from './file-selection.js';
export { planWorkspace, planInfo, skippedNotice, type WorkspacePlan } from './workspace-plan.js';
export { stageHistory, type StagedHistory } from './history-stage.js';
export {
  GUEST_GIT_ENV,
  guestFailure,
  guestOk,
  type GuestCommand,
  type GuestResult,
  type GuestShell,
} from './guest-shell.js';
export { shipToGuest, type ShipOptions, type ShipResult } from './guest-ship.js';
export { writeGuestPatch, SHIPPED_REF, type GuestPatchResult } from './guest-tree.js';
export { gitText, cleanGitEnv } from './git-cli.js';
