/**
 * Chooses KVM or TCG for a kernel by the cached verdict of a real probe boot (HOST-NOTES:
 * an openable /dev/kvm proves nothing). Probes at most once per kernel at a time.
 */
import type { Logger } from '../base/index.js';
import type { Accel } from '../protocol/index.js';
import { probeKvm } from '../vmm/index.js';
import type { AccelChooser, KernelBootFiles } from './ports.js';

export function createAccelChooser(cacheFile: string, logger: Logger): AccelChooser {
  const inFlight = new Map<string, Promise<Accel>>();
  return (kernel: KernelBootFiles) => {
    const known = inFlight.get(kernel.vmlinux);
    if (known) return known;
    const decided = probeKvm({ kernel: kernel.vmlinux, cacheFile })
      .then((verdict) => {
        if (!verdict.cached)
          logger.info('kvm probe', { accel: verdict.accel, reason: verdict.reason });
        return verdict.accel;
      })
      .catch((err: unknown) => {
        logger.warn('kvm probe failed; using tcg', { error: String(err) });
        return 'tcg' as const;
      })
      .finally(() => inFlight.delete(kernel.vmlinux));
    inFlight.set(kernel.vmlinux, decided);
    return decided;
  };
}
