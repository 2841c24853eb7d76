/**
 * Chooses KVM or TCG for a kernel by the cached verdict of a real probe boot (HOST-NOTES:
 * an openable /dev/kvm proves nothing). The verdict is remembered per kernel file (path,
 * size, mtime) for the daemon's lifetime: asking the probe cache costs a `qemu --version`
 * and a sha256 of the vmlinux, which a VM boot must not pay every time.
 */
import { statSync } from 'node:fs';
import type { Logger } from '../base/index.js';
import type { Accel } from '../protocol/index.js';
import { probeKvm } from '../vmm/index.js';
import type { AccelChooser, KernelBootFiles } from './ports.js';

export function createAccelChooser(cacheFile: string, logger: Logger): AccelChooser {
  const verdicts = new Map<string, Promise<Accel>>();
  return (kernel: KernelBootFiles) => {
    const key = kernelKey(kernel.vmlinux);
    const known = verdicts.get(key);
    if (known) return known;
    const decided = probeKvm({ kernel: kernel.vmlinux, cacheFile })
      .then((verdict) => {
        logger.info('kvm verdict', {
          accel: verdict.accel,
          reason: verdict.reason,
          cached: verdict.cached,
        });
        return verdict.accel;
      })
      .catch((err: unknown) => {
        logger.warn('kvm probe failed; using tcg', { error: String(err) });
        verdicts.delete(key);
        return 'tcg' as const;
      });
    verdicts.set(key, decided);
    return decided;
  };
}

function kernelKey(file: string): string {
  try {
    const st = statSync(file);
    return `${file}:${String(st.size)}:${String(st.mtimeMs)}`;
  } catch {
    return file;
  }
}
