import { promises as fs } from 'node:fs';
import path from 'node:path';
import { preconditionFailed, sha256File } from '../base/index.js';
import { GUEST_PROGRAM_NAMES, type GuestProgramName } from './manifest.js';

export interface GuestProgramFile {
  name: GuestProgramName;
  /** Where the built program is on the host. */
  hostPath: string;
  sha256: string;
}

/**
 * Finds banger's built guest programs in `dir` and hashes them. Missing or non-regular files
 * fail with `precondition_failed` and the command that builds them.
 */
export async function loadGuestPrograms(dir: string): Promise<GuestProgramFile[]> {
  const missing: string[] = [];
  const found: { name: GuestProgramName; hostPath: string }[] = [];
  for (const name of GUEST_PROGRAM_NAMES) {
    const hostPath = path.join(dir, name);
    const st = await fs.stat(hostPath).catch(() => undefined);
    if (st === undefined || !st.isFile() || st.size === 0) missing.push(hostPath);
    else found.push({ name, hostPath });
  }
  if (missing.length > 0) {
    throw preconditionFailed(
      `banger's guest programs are not built: missing ${missing.join(', ')}`,
      {
        hint: 'run `npm run build:guest` (or set BANGER_GUEST_DIR to where they are)',
      },
    );
  }
  return Promise.all(found.map(async (f) => ({ ...f, sha256: await sha256File(f.hostPath) })));
}
