import { describe, expect, it } from 'vitest';
import {
  MEDIA,
  parseImageConfig,
  parseManifestDocument,
  selectLinuxAmd64,
} from './oci-manifest.js';

const d = (c: string): string => `sha256:${c.repeat(64)}`;
const json = (v: unknown): Buffer => Buffer.from(JSON.stringify(v));

describe('parseManifestDocument', () => {
  it('reads an image manifest and an index', () => {
    const image = parseManifestDocument(
      json({
        schemaVersion: 2,
        mediaType: MEDIA.dockerManifest,
        config: { mediaType: MEDIA.dockerConfig, digest: d('a'), size: 10 },
        layers: [
          {
            mediaType: 'application/vnd.docker.image.rootfs.diff.tar.gzip',
            digest: d('b'),
            size: 20,
          },
        ],
      }),
      '',
      'x',
    );
    expect(image).toMatchObject({ kind: 'image', layers: [{ digest: d('b'), size: 20 }] });
    const index = parseManifestDocument(
      json({
        schemaVersion: 2,
        manifests: [
          {
            mediaType: MEDIA.ociManifest,
            digest: d('c'),
            size: 5,
            platform: { os: 'linux', architecture: 'arm64' },
          },
        ],
      }),
      MEDIA.ociIndex,
      'x',
    );
    expect(index).toMatchObject({
      kind: 'index',
      manifests: [{ platform: { architecture: 'arm64' } }],
    });
  });

  it.each([
    [{ schemaVersion: 1 }, /schema 1/],
    [
      { schemaVersion: 2, mediaType: 'application/vnd.oci.artifact.manifest.v1+json' },
      /unsupported manifest media type/,
    ],
    [
      {
        schemaVersion: 2,
        config: { mediaType: 'application/x-helm', digest: d('a'), size: 1 },
        layers: [],
      },
      /not an image config/,
    ],
    [
      {
        schemaVersion: 2,
        config: { mediaType: MEDIA.ociConfig, digest: 'md5:abc', size: 1 },
        layers: [],
      },
      /sha256/,
    ],
    [
      {
        schemaVersion: 2,
        config: { mediaType: MEDIA.ociConfig, digest: d('a'), size: 1 },
        layers: [
          {
            mediaType: 'application/vnd.docker.image.rootfs.foreign.diff.tar.gzip',
            digest: d('b'),
            size: 1,
          },
        ],
      },
      /unsupported media type/,
    ],
    [
      {
        schemaVersion: 2,
        config: { mediaType: MEDIA.ociConfig, digest: d('a'), size: 1 },
        layers: [],
      },
      /no layers/,
    ],
  ])('refuses %j', (doc, message) => {
    expect(() => parseManifestDocument(json(doc), '', 'x')).toThrow(message);
  });
});

describe('selectLinuxAmd64', () => {
  const m = (architecture: string, variant?: string) => ({
    mediaType: MEDIA.ociManifest,
    digest: d(architecture === 'amd64' ? (variant === undefined ? 'a' : 'b') : 'c'),
    size: 1,
    platform: { os: 'linux', architecture, ...(variant ? { variant } : {}) },
  });
  it('prefers the baseline amd64 build and names the platforms it lacks', () => {
    expect(selectLinuxAmd64([m('arm64'), m('amd64', 'v3'), m('amd64')], 'x').digest).toBe(d('a'));
    expect(selectLinuxAmd64([m('amd64', 'v2')], 'x').digest).toBe(d('b'));
    expect(() => selectLinuxAmd64([m('arm64', 'v8'), m('s390x')], 'img')).toThrow(
      'img: no linux/amd64 image (it has linux/arm64/v8, linux/s390x); banger runs linux/amd64 only',
    );
  });
});

describe('parseImageConfig', () => {
  it('reads diff_ids and the runtime config, and refuses other platforms', () => {
    const config = parseImageConfig(
      json({
        os: 'linux',
        architecture: 'amd64',
        config: { Env: ['A=1'], Cmd: ['sh'], WorkingDir: '/app', User: '1000' },
        rootfs: { type: 'layers', diff_ids: [d('e')] },
      }),
      'x',
    );
    expect(config).toEqual({
      os: 'linux',
      architecture: 'amd64',
      diffIds: [d('e')],
      env: ['A=1'],
      cmd: ['sh'],
      workingDir: '/app',
      user: '1000',
    });
    expect(() =>
      parseImageConfig(
        json({ os: 'linux', architecture: 'arm64', rootfs: { type: 'layers', diff_ids: [] } }),
        'x',
      ),
    ).toThrow(/linux\/arm64; banger runs linux\/amd64 only/);
    expect(() => parseImageConfig(json({ os: 'windows', architecture: 'amd64' }), 'x')).toThrow(
      /windows/,
    );
  });
});
