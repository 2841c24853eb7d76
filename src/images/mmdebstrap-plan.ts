/**
 * The mmdebstrap command line for a Debian image, as a pure argv builder (tested without
 * running it). mmdebstrap runs in root mode inside `unshare`: a private mount namespace keeps its
 * /proc, /sys and /dev mounts out of ours, and a pid namespace whose first process is killed with
 * unshare (`--kill-child`) takes every apt/dpkg child with it when the build is canceled.
 */
import { DPKG_PATH_FILTERS } from './debian-bookworm-packages.js';
import { formatIncludeList, type PackagePin } from './package-lock.js';

export interface MmdebstrapPlanInput {
  suite: string;
  /** Empty directory that becomes the root tree. */
  target: string;
  packages: readonly string[];
  lock: readonly PackagePin[];
  mirror: string;
  securityMirror: string;
  /** mmdebstrap's own scratch space (TMPDIR). */
  scratchDir: string;
  sourceDateEpoch: number;
}

export interface CommandPlan {
  file: string;
  argv: string[];
  env: Record<string, string>;
}

export function mmdebstrapPlan(input: MmdebstrapPlanInput): CommandPlan {
  const { suite, mirror, securityMirror } = input;
  return {
    file: 'unshare',
    argv: [
      '--mount',
      '--propagation',
      'private',
      '--pid',
      '--fork',
      '--kill-child=SIGKILL',
      '--mount-proc',
      '--',
      'mmdebstrap',
      '--mode=root',
      '--variant=minbase',
      '--format=directory',
      `--include=${formatIncludeList(input.packages, input.lock)}`,
      '--aptopt=Acquire::Retries "3"',
      ...DPKG_PATH_FILTERS.map((filter) => `--dpkgopt=${filter}`),
      suite,
      input.target,
      // Point releases, -updates and -security: the image gets fixes, and so does apt inside it.
      `deb ${mirror} ${suite} main`,
      `deb ${mirror} ${suite}-updates main`,
      `deb ${securityMirror} ${suite}-security main`,
    ],
    env: {
      TMPDIR: input.scratchDir,
      SOURCE_DATE_EPOCH: String(input.sourceDateEpoch),
      LC_ALL: 'C.UTF-8',
    },
  };
}
