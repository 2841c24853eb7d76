/**
 * A catalog: a JSON index at a configurable URL listing ready-made bundles (name, arch,
 * kernel, bundle URL, sha256, size). Fetched and validated as hostile input; bundle URLs may
 * be relative to the index.
 */
import { BangerError, badRequest, notFound } from '../../base/index.js';
import { causeText, readLimited } from '../http-body.js';
import { IMAGE_NAME_PATTERN } from '../image-name.js';

export interface CatalogEntry {
  name: string;
  arch: string;
  /** The kernel (a name in the kernel store, or the kernel catalog) an image boots with. */
  kernel?: string;
  /** Absolute http(s) URL of the bundle. */
  url: string;
  sha256: string;
  size: number;
  description?: string;
}

export interface Catalog {
  url: string;
  images: CatalogEntry[];
  kernels: CatalogEntry[];
}

const MAX_INDEX_BYTES = 4 * 1024 * 1024;
const MAX_BUNDLE_BYTES = 64 * 1024 ** 3;
const SHA256 = /^[0-9a-f]{64}$/;

export async function fetchCatalog(
  url: string,
  options: { signal?: AbortSignal } = {},
): Promise<Catalog> {
  let res: Response;
  try {
    res = await fetch(url, {
      headers: { 'user-agent': 'banger' },
      ...(options.signal ? { signal: options.signal } : {}),
    });
  } catch (err) {
    throw new BangerError('unavailable', `cannot fetch the catalog ${url}: ${causeText(err)}`, {
      cause: err,
    });
  }
  if (!res.ok) {
    await res.body?.cancel();
    throw new BangerError('unavailable', `the catalog ${url} answered HTTP ${String(res.status)}`);
  }
  const body = await readLimited(res, MAX_INDEX_BYTES, `the catalog ${url}`);
  return parseCatalog(body.toString('utf8'), url);
}

export function parseCatalog(text: string, url: string): Catalog {
  const bad = (rule: string): Error => badRequest(`catalog ${url}: ${rule}`);
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    throw bad('not valid JSON');
  }
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc))
    throw bad('must be a JSON object');
  const d = doc as Record<string, unknown>;
  if (d.schema !== 1) throw bad('schema must be 1');
  const list = (key: 'images' | 'kernels'): CatalogEntry[] => {
    const raw = d[key] ?? [];
    if (!Array.isArray(raw) || raw.length > 10_000) throw bad(`${key} must be a list`);
    const entries = raw.map((e, i) => entry(e, `${key}[${String(i)}]`, url, bad));
    const seen = new Set<string>();
    for (const e of entries) {
      const id = `${e.name}/${e.arch}`;
      if (seen.has(id)) throw bad(`${key} lists ${id} twice`);
      seen.add(id);
    }
    return entries;
  };
  return { url, images: list('images'), kernels: list('kernels') };
}

/** The amd64 entry named `name`; undefined when the catalog has none of that name. */
export function findEntry(
  entries: readonly CatalogEntry[],
  name: string,
  catalogUrl: string,
): CatalogEntry | undefined {
  const named = entries.filter((e) => e.name === name);
  if (named.length === 0) return undefined;
  const amd64 = named.find((e) => e.arch === 'amd64');
  if (amd64 === undefined) {
    throw badRequest(
      `${name} in the catalog ${catalogUrl} is for ${named.map((e) => e.arch).join(', ')}; banger runs amd64 only`,
    );
  }
  return amd64;
}

/** Like findEntry, but a missing entry is not_found. */
export function requireEntry(
  entries: readonly CatalogEntry[],
  name: string,
  catalogUrl: string,
): CatalogEntry {
  const found = findEntry(entries, name, catalogUrl);
  if (found === undefined) {
    throw notFound(`${name} is not in the catalog ${catalogUrl}`, {
      hint: `it lists ${
        entries
          .map((e) => e.name)
          .slice(0, 10)
          .join(', ') || 'nothing'
      }`,
    });
  }
  return found;
}

function entry(
  value: unknown,
  where: string,
  base: string,
  bad: (rule: string) => Error,
): CatalogEntry {
  if (typeof value !== 'object' || value === null) throw bad(`${where} must be an object`);
  const e = value as Record<string, unknown>;
  const name = e.name;
  if (typeof name !== 'string' || !IMAGE_NAME_PATTERN.test(name)) {
    throw bad(`${where}.name must match ${String(IMAGE_NAME_PATTERN)}`);
  }
  if (typeof e.arch !== 'string' || !/^[a-z0-9_]{1,32}$/.test(e.arch))
    throw bad(`${where}.arch must be an architecture name`);
  if (typeof e.sha256 !== 'string' || !SHA256.test(e.sha256))
    throw bad(`${where}.sha256 must be 64 lowercase hex digits`);
  if (
    typeof e.size !== 'number' ||
    !Number.isSafeInteger(e.size) ||
    e.size <= 0 ||
    e.size > MAX_BUNDLE_BYTES
  ) {
    throw bad(`${where}.size must be a positive integer of at most ${String(MAX_BUNDLE_BYTES)}`);
  }
  if (typeof e.url !== 'string' || e.url.length > 2048) throw bad(`${where}.url must be a string`);
  let resolved: URL;
  try {
    resolved = new URL(e.url, base);
  } catch {
    throw bad(`${where}.url ${JSON.stringify(e.url)} is not a URL`);
  }
  if (resolved.protocol !== 'http:' && resolved.protocol !== 'https:')
    throw bad(`${where}.url must be http(s)`);
  const out: CatalogEntry = {
    name,
    arch: e.arch,
    url: resolved.toString(),
    sha256: e.sha256,
    size: e.size,
  };
  if (e.kernel !== undefined) {
    if (typeof e.kernel !== 'string' || !IMAGE_NAME_PATTERN.test(e.kernel))
      throw bad(`${where}.kernel must be a kernel name`);
    out.kernel = e.kernel;
  }
  if (typeof e.description === 'string') out.description = e.description.slice(0, 500);
  return out;
}
