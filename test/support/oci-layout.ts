/**
 * Writes OCI image layouts for tests, byte by byte: each layer is a tar built from entry
 * descriptions (so hostile entries are as easy as honest ones), compressed with gzip, zstd or
 * not at all. The layout is then pushed to a real registry with skopeo.
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
import {
  TAR_END,
  tarHeader,
  tarPadding,
  type TarHeaderInput,
} from '../../src/images/tar/tar-writer.js';

export type LayerEntry = TarHeaderInput & { body?: Buffer | string };

export interface LayerSpec {
  entries?: LayerEntry[];
  /** A raw tar stream instead of entries. */
  raw?: Buffer;
  compression?: 'gzip' | 'zstd' | 'none';
}

export interface WrittenLayout {
  dir: string;
  manifestDigest: string;
  configDigest: string;
  layers: { digest: string; diffId: string; size: number }[];
}

export function tarOf(entries: LayerEntry[]): Buffer {
  const parts: Buffer[] = [];
  for (const e of entries) {
    const body = typeof e.body === 'string' ? Buffer.from(e.body) : (e.body ?? Buffer.alloc(0));
    const header: LayerEntry = { ...e };
    delete header.body;
    parts.push(
      tarHeader({ ...header, size: header.size ?? body.length }),
      body,
      tarPadding(body.length),
    );
  }
  parts.push(TAR_END);
  return Buffer.concat(parts);
}

const sha = (b: Buffer): string => `sha256:${createHash('sha256').update(b).digest('hex')}`;

/** zstd-compresses `data` with the zstd program. */
export function zstd(data: Buffer): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const child = spawn('zstd', ['--quiet', '--stdout'], { stdio: ['pipe', 'pipe', 'inherit'] });
    const out: Buffer[] = [];
    child.stdout.on('data', (c: Buffer) => out.push(c));
    child.on('error', reject);
    child.on('close', (code) =>
      code === 0 ? resolve(Buffer.concat(out)) : reject(new Error(`zstd exited ${String(code)}`)),
    );
    child.stdin.end(data);
  });
}

async function compress(
  data: Buffer,
  how: LayerSpec['compression'],
): Promise<{ bytes: Buffer; mediaType: string }> {
  if (how === 'none') return { bytes: data, mediaType: 'application/vnd.oci.image.layer.v1.tar' };
  if (how === 'zstd') {
    return { bytes: await zstd(data), mediaType: 'application/vnd.oci.image.layer.v1.tar+zstd' };
  }
  return { bytes: zlib.gzipSync(data), mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip' };
}

export async function writeOciLayout(
  dir: string,
  layers: LayerSpec[],
  options: { architecture?: string; os?: string; config?: Record<string, unknown> } = {},
): Promise<WrittenLayout> {
  const blobs = path.join(dir, 'blobs', 'sha256');
  await fs.mkdir(blobs, { recursive: true });
  const put = async (bytes: Buffer): Promise<string> => {
    const digest = sha(bytes);
    await fs.writeFile(path.join(blobs, digest.slice(7)), bytes);
    return digest;
  };
  const written: WrittenLayout['layers'] = [];
  const descriptors: { mediaType: string; digest: string; size: number }[] = [];
  for (const layer of layers) {
    const tar = layer.raw ?? tarOf(layer.entries ?? []);
    const { bytes, mediaType } = await compress(tar, layer.compression ?? 'gzip');
    const digest = await put(bytes);
    written.push({ digest, diffId: sha(tar), size: bytes.length });
    descriptors.push({ mediaType, digest, size: bytes.length });
  }
  const config = Buffer.from(
    JSON.stringify({
      architecture: options.architecture ?? 'amd64',
      os: options.os ?? 'linux',
      config: {
        Env: ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'],
        Cmd: ['/bin/sh'],
        ...options.config,
      },
      rootfs: { type: 'layers', diff_ids: written.map((l) => l.diffId) },
    }),
  );
  const configDigest = await put(config);
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      config: {
        mediaType: 'application/vnd.oci.image.config.v1+json',
        digest: configDigest,
        size: config.length,
      },
      layers: descriptors,
    }),
  );
  const manifestDigest = await put(manifest);
  await fs.writeFile(path.join(dir, 'oci-layout'), '{"imageLayoutVersion":"1.0.0"}');
  await fs.writeFile(
    path.join(dir, 'index.json'),
    JSON.stringify({
      schemaVersion: 2,
      manifests: [
        {
          mediaType: 'application/vnd.oci.image.manifest.v1+json',
          digest: manifestDigest,
          size: manifest.length,
          annotations: { 'org.opencontainers.image.ref.name': 'latest' },
        },
      ],
    }),
  );
  return { dir, manifestDigest, configDigest, layers: written };
}

/** A base layer with a static busybox (the host's) and its applets: a shell, stat, ls, cat. */
export async function busyboxEntries(): Promise<LayerEntry[]> {
  const busybox = await fs.readFile('/bin/busybox');
  const applets = ['sh', 'stat', 'ls', 'cat', 'readlink', 'id', 'test', 'echo'];
  return [
    { name: 'bin/', type: 'dir', mode: 0o755 },
    { name: 'bin/busybox', mode: 0o755, body: busybox },
    ...applets.map((a): LayerEntry => ({
      name: `bin/${a}`,
      type: 'symlink',
      linkname: 'busybox',
      mode: 0o777,
    })),
    { name: 'etc/', type: 'dir', mode: 0o755 },
    { name: 'tmp/', type: 'dir', mode: 0o1777 },
  ];
}
