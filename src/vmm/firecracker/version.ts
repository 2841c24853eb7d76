/**
 * Which Firecracker versions banger drives: >= 1.5 (the API it uses: vsock without vsock_id,
 * snapshot mem_backend, entropy device); tested against the 1.17 spec. Newer versions are
 * accepted with a warning; older ones are refused before a VM is configured.
 */
import { BangerError, run } from '../../base/index.js';

export const FIRECRACKER_MIN_VERSION = [1, 5] as const;
/** The newest minor version whose API spec banger was built and tested against. */
export const FIRECRACKER_TESTED_MAX = [1, 17] as const;
/** Firecracker finds virtio-mmio devices through ACPI from 1.8 on (kernels without cmdline devices need it). */
export const FIRECRACKER_ACPI_SINCE = [1, 8] as const;

export interface FirecrackerVersionCheck {
  version: string;
  /** Set when the version is newer than the tested range. */
  warning?: string;
}

/** "1.7.0", "v1.7.0", "1.17.0-dev" -> [major, minor, patch]. */
export function parseFirecrackerVersion(text: string): [number, number, number] | undefined {
  const m = /^v?(\d+)\.(\d+)\.(\d+)/.exec(text.trim());
  if (!m) return undefined;
  return [Number(m[1]), Number(m[2]), Number(m[3])];
}

function atLeast(v: readonly number[], min: readonly number[]): boolean {
  for (let i = 0; i < min.length; i++) {
    const a = v[i] ?? 0;
    const b = min[i] ?? 0;
    if (a !== b) return a > b;
  }
  return true;
}

/** Throws precondition_failed below the supported range; warns above the tested one. */
export function checkFirecrackerVersion(text: string): FirecrackerVersionCheck {
  const v = parseFirecrackerVersion(text);
  if (v === undefined) {
    throw new BangerError(
      'precondition_failed',
      `cannot read a Firecracker version from ${JSON.stringify(text.slice(0, 60))}`,
    );
  }
  const version = v.join('.');
  if (!atLeast(v, FIRECRACKER_MIN_VERSION)) {
    throw new BangerError(
      'precondition_failed',
      `Firecracker ${version} is too old: banger needs >= ${FIRECRACKER_MIN_VERSION.join('.')}`,
      { hint: 'install a newer Firecracker release, or use vmm = "qemu"' },
    );
  }
  if (atLeast(v, [FIRECRACKER_TESTED_MAX[0], FIRECRACKER_TESTED_MAX[1] + 1])) {
    return {
      version,
      warning: `Firecracker ${version} is newer than the tested ${FIRECRACKER_TESTED_MAX.join('.')}.x API`,
    };
  }
  return { version };
}

/** True when this Firecracker describes virtio-mmio devices to the guest through ACPI. */
export function firecrackerHasAcpi(version: string): boolean {
  const v = parseFirecrackerVersion(version);
  return v !== undefined && atLeast(v, FIRECRACKER_ACPI_SINCE);
}

/** The version `firecracker --version` prints ("Firecracker v1.7.0"). */
export async function firecrackerBinaryVersion(
  binary: string,
  options: { signal?: AbortSignal } = {},
): Promise<string> {
  const out = await run(binary, ['--version'], {
    timeoutMs: 10_000,
    ...(options.signal ? { signal: options.signal } : {}),
  });
  const text = out.stdout.toString('utf8');
  const m = /Firecracker v?(\d+\.\d+\.\d+[0-9A-Za-z.+~-]*)/.exec(text);
  if (!m?.[1]) {
    throw new BangerError(
      'operation_failed',
      `${binary} --version printed no "Firecracker vX.Y.Z"`,
      {
        details: { stdout: text.slice(0, 200) },
      },
    );
  }
  return m[1];
}
