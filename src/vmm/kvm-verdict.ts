/**
 * The cached answer to "does KVM really work here?". A probe boot is slow-ish (seconds), and
 * its answer only changes with QEMU, the guest kernel or the host kernel, so the verdict is
 * stored in a JSON file keyed by all three. Other top-level keys of that file are kept.
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { writeFileAtomic } from '../base/index.js';
import type { Accel } from '../protocol/index.js';

export interface KvmVerdict {
  accel: Accel;
  /** Why: "probe boot reached init in 0.9 s", "no /dev/kvm", "failed to set MSR 0x10a"... */
  reason: string;
  probedAt: string;
  /** How long the probe boot ran (0 when no boot was needed to decide). */
  elapsedMs: number;
  key: string;
  /** True when this came from the cache file rather than a fresh probe. */
  cached: boolean;
}

export type ProbeOutcome = Pick<KvmVerdict, 'accel' | 'reason' | 'elapsedMs'>;

const MAX_ENTRIES = 16;

export function probeCacheKey(parts: {
  qemuVersion: string;
  kernelSha256: string;
  hostRelease: string;
}): string {
  return `qemu=${parts.qemuVersion};kernel=${parts.kernelSha256};host=${parts.hostRelease}`;
}

/** The cached verdict for `key` in the cache file's text, if present and well-formed. */
export function readCachedVerdict(text: string | undefined, key: string): KvmVerdict | undefined {
  const entry = kvmSection(parse(text))[key];
  if (typeof entry !== 'object' || entry === null) return undefined;
  const e = entry as Record<string, unknown>;
  if (e.accel !== 'kvm' && e.accel !== 'tcg') return undefined;
  if (typeof e.reason !== 'string' || typeof e.probedAt !== 'string') return undefined;
  const elapsedMs =
    typeof e.elapsedMs === 'number' && Number.isFinite(e.elapsedMs) ? e.elapsedMs : 0;
  return {
    accel: e.accel,
    reason: e.reason.slice(0, 500),
    probedAt: e.probedAt,
    elapsedMs,
    key,
    cached: true,
  };
}

/** The cache file's new text with `verdict` stored (oldest entries beyond MAX_ENTRIES dropped). */
export function storeVerdict(text: string | undefined, verdict: KvmVerdict): string {
  const root = parse(text);
  // Newest last; re-storing a key moves it to the end.
  const entries = Object.entries(kvmSection(root)).filter(([k]) => k !== verdict.key);
  entries.push([
    verdict.key,
    {
      accel: verdict.accel,
      reason: verdict.reason,
      probedAt: verdict.probedAt,
      elapsedMs: verdict.elapsedMs,
    },
  ]);
  root.kvm = Object.fromEntries(entries.slice(-MAX_ENTRIES));
  return `${JSON.stringify(root, null, 2)}\n`;
}

/**
 * The verdict for `key`: from the cache unless `force`, else from `probe()` (then cached).
 * A cache file that cannot be read or parsed is treated as empty.
 */
export async function decideKvmVerdict(options: {
  key: string;
  cacheFile: string;
  force?: boolean | undefined;
  probe: () => Promise<ProbeOutcome>;
  now?: () => Date;
}): Promise<KvmVerdict> {
  const text = await fs.readFile(options.cacheFile, 'utf8').catch(() => undefined);
  if (options.force !== true) {
    const cached = readCachedVerdict(text, options.key);
    if (cached !== undefined) return cached;
  }
  const outcome = await options.probe();
  const verdict: KvmVerdict = {
    ...outcome,
    probedAt: (options.now?.() ?? new Date()).toISOString(),
    key: options.key,
    cached: false,
  };
  await fs.mkdir(path.dirname(options.cacheFile), { recursive: true, mode: 0o700 });
  await writeFileAtomic(options.cacheFile, storeVerdict(text, verdict));
  return verdict;
}

function parse(text: string | undefined): Record<string, unknown> {
  if (text === undefined) return {};
  try {
    const value: unknown = JSON.parse(text);
    return typeof value === 'object' && value !== null && !Array.isArray(value)
      ? (value as Record<string, unknown>)
      : {};
  } catch {
    return {};
  }
}

function kvmSection(root: Record<string, unknown>): Record<string, unknown> {
  const kvm = root.kvm;
  return typeof kvm === 'object' && kvm !== null && !Array.isArray(kvm)
    ? { ...(kvm as Record<string, unknown>) }
    : {};
}
