/**
 * OCI / Docker v2 manifests, indexes and image configs, validated as hostile JSON: known media
 * types, sha256 digests, bounded sizes and counts, and only linux/amd64 images.
 */
import { badRequest } from '../../base/index.js';
import { DIGEST_PATTERN } from './reference.js';

export const MEDIA = {
  ociIndex: 'application/vnd.oci.image.index.v1+json',
  dockerList: 'application/vnd.docker.distribution.manifest.list.v2+json',
  ociManifest: 'application/vnd.oci.image.manifest.v1+json',
  dockerManifest: 'application/vnd.docker.distribution.manifest.v2+json',
  ociConfig: 'application/vnd.oci.image.config.v1+json',
  dockerConfig: 'application/vnd.docker.container.image.v1+json',
} as const;

export const LAYER_MEDIA_TYPES = new Set([
  'application/vnd.oci.image.layer.v1.tar',
  'application/vnd.oci.image.layer.v1.tar+gzip',
  'application/vnd.oci.image.layer.v1.tar+zstd',
  'application/vnd.docker.image.rootfs.diff.tar.gzip',
  'application/vnd.docker.image.rootfs.diff.tar',
]);

/** Largest manifest or config document accepted. */
export const MAX_DOCUMENT_BYTES = 4 * 1024 * 1024;
/** Largest layer blob accepted. */
export const MAX_LAYER_BYTES = 64 * 1024 ** 3;
const MAX_LAYERS = 256;

export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
}

export interface PlatformDescriptor extends Descriptor {
  platform?: { os: string; architecture: string; variant?: string };
}

export type ManifestDocument =
  | { kind: 'index'; manifests: PlatformDescriptor[] }
  | { kind: 'image'; config: Descriptor; layers: Descriptor[] };

export interface ImageConfigInfo {
  os: string;
  architecture: string;
  diffIds: string[];
  entrypoint?: string[];
  cmd?: string[];
  env?: string[];
  workingDir?: string;
  user?: string;
}

export function parseManifestDocument(
  body: Buffer,
  contentType: string,
  where: string,
): ManifestDocument {
  const doc = parseJson(body, where);
  const mediaType = typeof doc.mediaType === 'string' ? doc.mediaType : contentType;
  if (
    doc.schemaVersion === 1 ||
    /^application\/vnd\.docker\.distribution\.manifest\.v1\+/.test(mediaType)
  ) {
    throw badRequest(`${where}: schema 1 manifests are not supported (the image is too old)`);
  }
  if (doc.schemaVersion !== 2) throw badRequest(`${where}: schemaVersion must be 2`);
  const isIndex =
    mediaType === MEDIA.ociIndex ||
    mediaType === MEDIA.dockerList ||
    (mediaType === '' && Array.isArray(doc.manifests));
  if (isIndex) {
    const list = array(doc.manifests, `${where}: manifests`, 1024);
    return {
      kind: 'index',
      manifests: list.map((m, i) => {
        const d = descriptor(m, `${where}: manifests[${String(i)}]`, MAX_DOCUMENT_BYTES);
        const p = (m as Record<string, unknown>).platform;
        const out: PlatformDescriptor = d;
        if (typeof p === 'object' && p !== null) {
          const { os, architecture, variant } = p as Record<string, unknown>;
          if (typeof os === 'string' && typeof architecture === 'string') {
            out.platform = {
              os,
              architecture,
              ...(typeof variant === 'string' ? { variant } : {}),
            };
          }
        }
        return out;
      }),
    };
  }
  if (mediaType !== MEDIA.ociManifest && mediaType !== MEDIA.dockerManifest && mediaType !== '') {
    throw badRequest(`${where}: unsupported manifest media type ${JSON.stringify(mediaType)}`);
  }
  const config = descriptor(doc.config, `${where}: config`, MAX_DOCUMENT_BYTES);
  if (config.mediaType !== MEDIA.ociConfig && config.mediaType !== MEDIA.dockerConfig) {
    throw badRequest(
      `${where}: config media type ${JSON.stringify(config.mediaType)} is not an image config`,
      {
        hint: 'this artifact is not a container image',
      },
    );
  }
  const layers = array(doc.layers, `${where}: layers`, MAX_LAYERS).map((l, i) => {
    const d = descriptor(l, `${where}: layers[${String(i)}]`, MAX_LAYER_BYTES);
    if (!LAYER_MEDIA_TYPES.has(d.mediaType)) {
      throw badRequest(
        `${where}: layer ${String(i + 1)} has unsupported media type ${JSON.stringify(d.mediaType)}`,
      );
    }
    return d;
  });
  if (layers.length === 0) throw badRequest(`${where}: the image has no layers`);
  return { kind: 'image', config, layers };
}

/** The linux/amd64 manifest of an index, or a refusal naming the platforms it has. */
export function selectLinuxAmd64(
  manifests: readonly PlatformDescriptor[],
  where: string,
): PlatformDescriptor {
  const matches = manifests.filter(
    (m) => m.platform?.os === 'linux' && m.platform.architecture === 'amd64',
  );
  // Prefer the baseline (no variant, or v1) over amd64/v2, v3 builds.
  const best =
    matches.find((m) => m.platform?.variant === undefined || m.platform.variant === 'v1') ??
    matches[0];
  if (best !== undefined) return best;
  const have = [
    ...new Set(
      manifests
        .map((m) => m.platform)
        .filter((p) => p !== undefined && p.os !== 'unknown')
        .map(
          (p) => `${p?.os ?? '?'}/${p?.architecture ?? '?'}${p?.variant ? `/${p.variant}` : ''}`,
        ),
    ),
  ];
  throw badRequest(
    `${where}: no linux/amd64 image (it has ${have.length > 0 ? have.join(', ') : 'no platforms listed'}); banger runs linux/amd64 only`,
  );
}

export function parseImageConfig(body: Buffer, where: string): ImageConfigInfo {
  const doc = parseJson(body, where);
  const os = typeof doc.os === 'string' ? doc.os : '';
  const architecture = typeof doc.architecture === 'string' ? doc.architecture : '';
  if (os !== 'linux' || architecture !== 'amd64') {
    throw badRequest(
      `${where}: the image is ${os || '?'}/${architecture || '?'}; banger runs linux/amd64 only`,
    );
  }
  const rootfs = doc.rootfs as Record<string, unknown> | undefined;
  if (typeof rootfs !== 'object' || rootfs === null || rootfs.type !== 'layers') {
    throw badRequest(`${where}: rootfs.type must be "layers"`);
  }
  const diffIds = array(rootfs.diff_ids, `${where}: rootfs.diff_ids`, MAX_LAYERS).map((d, i) => {
    if (typeof d !== 'string' || !DIGEST_PATTERN.test(d)) {
      throw badRequest(`${where}: rootfs.diff_ids[${String(i)}] is not a sha256 digest`);
    }
    return d;
  });
  const info: ImageConfigInfo = { os, architecture, diffIds };
  const c = doc.config;
  if (typeof c === 'object' && c !== null) {
    const cfg = c as Record<string, unknown>;
    const list = (v: unknown): string[] | undefined =>
      Array.isArray(v) &&
      v.length <= 1024 &&
      v.every((s) => typeof s === 'string' && s.length <= 65536)
        ? (v as string[])
        : undefined;
    const entrypoint = list(cfg.Entrypoint);
    const cmd = list(cfg.Cmd);
    const env = list(cfg.Env);
    if (entrypoint !== undefined) info.entrypoint = entrypoint;
    if (cmd !== undefined) info.cmd = cmd;
    if (env !== undefined) info.env = env;
    if (
      typeof cfg.WorkingDir === 'string' &&
      cfg.WorkingDir.length <= 4096 &&
      cfg.WorkingDir !== ''
    ) {
      info.workingDir = cfg.WorkingDir;
    }
    if (typeof cfg.User === 'string' && cfg.User.length <= 256 && cfg.User !== '')
      info.user = cfg.User;
  }
  return info;
}

function parseJson(body: Buffer, where: string): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(body.toString('utf8'));
  } catch {
    throw badRequest(`${where}: not valid JSON`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw badRequest(`${where}: must be a JSON object`);
  }
  return value as Record<string, unknown>;
}

function array(value: unknown, where: string, max: number): unknown[] {
  if (!Array.isArray(value)) throw badRequest(`${where} must be a list`);
  if (value.length > max) throw badRequest(`${where} has more than ${String(max)} entries`);
  return value;
}

function descriptor(value: unknown, where: string, maxSize: number): Descriptor {
  if (typeof value !== 'object' || value === null) throw badRequest(`${where} must be an object`);
  const { mediaType, digest, size } = value as Record<string, unknown>;
  if (typeof mediaType !== 'string' || mediaType.length > 256)
    throw badRequest(`${where}.mediaType must be a string`);
  if (typeof digest !== 'string' || !DIGEST_PATTERN.test(digest)) {
    throw badRequest(
      `${where}.digest must be sha256:<64 hex digits> (got ${JSON.stringify(digest)})`,
    );
  }
  if (typeof size !== 'number' || !Number.isSafeInteger(size) || size < 0 || size > maxSize) {
    throw badRequest(`${where}.size must be an integer from 0 to ${String(maxSize)}`);
  }
  return { mediaType, digest, size };
}
