import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkCredentials, dockerConfigFile, lookupDockerConfig } from './credentials.js';

let dir = '';
beforeAll(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'banger-creds-'));
});
afterAll(async () => {
  await fs.rm(dir, { recursive: true, force: true });
});

async function config(value: unknown): Promise<string> {
  const file = path.join(dir, `${String(Math.random()).slice(2)}.json`);
  await fs.writeFile(file, typeof value === 'string' ? value : JSON.stringify(value));
  return file;
}

const b64 = (s: string): string => Buffer.from(s).toString('base64');

describe('lookupDockerConfig', () => {
  it('finds auths by host, with or without scheme and path, and Docker Hub by its aliases', async () => {
    const file = await config({
      auths: {
        'https://index.docker.io/v1/': { auth: b64('hubuser:hub:pass') },
        'http://registry.lan:5000': { auth: b64('lan:pw') },
        'ghcr.io': { username: 'gh', password: 'token' },
      },
    });
    expect((await lookupDockerConfig('registry-1.docker.io', file)).credentials).toEqual({
      username: 'hubuser',
      password: 'hub:pass',
    });
    expect((await lookupDockerConfig('registry.lan:5000', file)).credentials).toEqual({
      username: 'lan',
      password: 'pw',
    });
    expect((await lookupDockerConfig('ghcr.io', file)).credentials).toEqual({
      username: 'gh',
      password: 'token',
    });
    expect((await lookupDockerConfig('quay.io', file)).credentials).toBeUndefined();
  });

  it('reports a credential helper it will not run, and tolerates a missing file', async () => {
    const file = await config({ credsStore: 'desktop', credHelpers: { 'gcr.io': 'gcloud' } });
    expect(await lookupDockerConfig('gcr.io', file)).toEqual({ helper: 'gcloud', file });
    expect(await lookupDockerConfig('quay.io', file)).toEqual({ helper: 'desktop', file });
    expect(await lookupDockerConfig('quay.io', path.join(dir, 'none.json'))).toEqual({
      file: path.join(dir, 'none.json'),
    });
  });

  it('refuses a config that is not JSON or an auth that is not user:password', async () => {
    await expect(lookupDockerConfig('x.io', await config('{oops'))).rejects.toThrow(
      /not valid JSON/,
    );
    await expect(
      lookupDockerConfig('x.io', await config({ auths: { 'x.io': { auth: b64('nocolon') } } })),
    ).rejects.toThrow(/not base64 of user:password/);
  });

  it('follows DOCKER_CONFIG, else HOME', () => {
    expect(dockerConfigFile({ DOCKER_CONFIG: '/cfg' })).toBe('/cfg/config.json');
    expect(dockerConfigFile({ HOME: '/home/me' })).toBe('/home/me/.docker/config.json');
  });
});

describe('checkCredentials', () => {
  it('trims the newline a pipe adds and refuses bad usernames', () => {
    expect(checkCredentials({ username: 'me', password: 'pw\n' })).toEqual({
      username: 'me',
      password: 'pw',
    });
    expect(() => checkCredentials({ username: 'a:b', password: 'x' })).toThrow(/username/);
    expect(() => checkCredentials({ username: 'a', password: '' })).toThrow(/password/);
  });
});
