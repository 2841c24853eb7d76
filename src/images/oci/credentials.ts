/**
 * Registry credentials: given explicitly (`--username` + `--password-stdin`) or found in the
 * user's Docker config (`$DOCKER_CONFIG/config.json` or `~/.docker/config.json`, the `auths`
 * map with base64 `user:password`). Credential helpers (credsStore) are not run.
 */
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { badRequest } from '../../base/index.js';

export interface Credentials {
  username: string;
  password: string;
}

export interface DockerConfigLookup {
  credentials?: Credentials;
  /** Set when the config delegates this registry to a helper banger does not run. */
  helper?: string;
  file: string;
}

const HUB_ALIASES = ['docker.io', 'index.docker.io', 'registry-1.docker.io'];
const MAX_CONFIG_BYTES = 1024 * 1024;

/** Where Docker keeps its config for this process's user. */
export function dockerConfigFile(env: NodeJS.ProcessEnv = process.env): string {
  const dir = env.DOCKER_CONFIG ?? path.join(env.HOME ?? os.homedir(), '.docker');
  return path.join(dir, 'config.json');
}

/** Checks explicit credentials: both parts, printable, bounded. */
export function checkCredentials(value: Credentials): Credentials {
  if (
    typeof value.username !== 'string' ||
    value.username === '' ||
    value.username.length > 256 ||
    /[\0-\x1f:]/.test(value.username)
  ) {
    throw badRequest('username must be 1-256 characters without ":" or control characters');
  }
  if (typeof value.password !== 'string' || value.password === '' || value.password.length > 4096) {
    throw badRequest('password must be 1-4096 characters (give it on stdin with --password-stdin)');
  }
  return { username: value.username, password: value.password.replace(/\r?\n$/, '') };
}

/** Credentials for `registry` (host[:port]) from a Docker config file; none when absent. */
export async function lookupDockerConfig(
  registry: string,
  file: string,
): Promise<DockerConfigLookup> {
  let text: string;
  try {
    const st = await fs.stat(file);
    if (!st.isFile() || st.size > MAX_CONFIG_BYTES) return { file };
    text = await fs.readFile(file, 'utf8');
  } catch {
    return { file };
  }
  let config: unknown;
  try {
    config = JSON.parse(text);
  } catch {
    throw badRequest(`${file} is not valid JSON`, {
      hint: 'fix it, or pass --username/--password-stdin',
    });
  }
  if (typeof config !== 'object' || config === null) return { file };
  const { auths, credsStore, credHelpers } = config as Record<string, unknown>;
  const wanted = HUB_ALIASES.includes(registry) ? HUB_ALIASES : [registry];
  if (typeof auths === 'object' && auths !== null) {
    for (const [key, value] of Object.entries(auths as Record<string, unknown>)) {
      if (!wanted.includes(registryOfKey(key))) continue;
      const found = decodeEntry(value, key, file);
      if (found !== undefined) return { credentials: found, file };
    }
  }
  const helpers = typeof credHelpers === 'object' && credHelpers !== null ? credHelpers : {};
  const helper = wanted
    .map((r) => (helpers as Record<string, unknown>)[r])
    .find((h): h is string => typeof h === 'string');
  if (helper !== undefined) return { helper, file };
  if (typeof credsStore === 'string') return { helper: credsStore, file };
  return { file };
}

/** `https://index.docker.io/v1/` -> index.docker.io; `localhost:5000` stays. */
function registryOfKey(key: string): string {
  const noScheme = key.replace(/^[a-z]+:\/\//i, '');
  return noScheme.split('/')[0] ?? '';
}

function decodeEntry(value: unknown, key: string, file: string): Credentials | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const entry = value as Record<string, unknown>;
  if (typeof entry.auth === 'string' && entry.auth !== '') {
    const decoded = Buffer.from(entry.auth, 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    if (colon <= 0) {
      throw badRequest(
        `${file}: auths[${JSON.stringify(key)}].auth is not base64 of user:password`,
      );
    }
    return { username: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
  }
  if (typeof entry.username === 'string' && typeof entry.password === 'string') {
    return { username: entry.username, password: entry.password };
  }
  return undefined;
}
