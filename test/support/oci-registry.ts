/**
 * A real OCI distribution server for tests: Debian's `docker-registry` on 127.0.0.1, with no
 * auth, htpasswd basic auth, or token auth backed by a small token server of our own (ES256
 * JWTs with an x5c header, checked by the registry against a throwaway certificate). Each
 * registry's storage and config live in a temp dir; `stop` kills what it started, by pid.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash, createPrivateKey, randomBytes, sign, X509Certificate } from 'node:crypto';
import { promises as fs } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

export interface TestUser {
  username: string;
  password: string;
}

export interface RegistryOptions {
  auth?: 'none' | 'htpasswd' | 'token';
  /** htpasswd and token auth: the accepted user. */
  user?: TestUser;
  /** token auth: repositories under this prefix need the user; others are anonymous. */
  privatePrefix?: string;
}

export interface TestRegistry {
  /** host:port */
  host: string;
  root: string;
  storageDir: string;
  /** Everything the registry logged (access log included). */
  log(): string;
  /** Requests the token server answered: [scope, user or '']. */
  tokenRequests: [string, string][];
  stop(): Promise<void>;
}

export async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as net.AddressInfo).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

async function runTool(file: string, args: string[], input?: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString()));
    child.stderr.on('data', (c: Buffer) => (err += c.toString()));
    child.on('error', reject);
    child.on('close', (code) =>
      code === 0
        ? resolve(out)
        : reject(new Error(`${file} ${args.join(' ')} exited ${String(code)}: ${err}`)),
    );
    child.stdin.end(input ?? '');
  });
}

export async function startRegistry(options: RegistryOptions = {}): Promise<TestRegistry> {
  const root = await fs.mkdtemp(path.join(os.tmpdir(), 'banger-registry-'));
  const storageDir = path.join(root, 'storage');
  await fs.mkdir(storageDir);
  const port = await freePort();
  const host = `127.0.0.1:${String(port)}`;
  const user = options.user ?? { username: 'dev', password: 'secret-pass' };
  const tokenRequests: [string, string][] = [];
  let tokenServer: http.Server | undefined;
  let auth = '';
  if (options.auth === 'htpasswd') {
    const line = await runTool('htpasswd', ['-nbB', user.username, user.password]);
    await fs.writeFile(path.join(root, 'htpasswd'), line);
    auth = `auth:\n  htpasswd:\n    realm: banger-test\n    path: ${path.join(root, 'htpasswd')}\n`;
  } else if (options.auth === 'token') {
    const token = await startTokenServer(
      root,
      user,
      options.privatePrefix ?? 'private/',
      tokenRequests,
    );
    tokenServer = token.server;
    auth =
      `auth:\n  token:\n    realm: ${token.realm}\n    service: banger-test\n    issuer: banger-test-issuer\n` +
      `    rootcertbundle: ${token.certFile}\n`;
  }
  const config =
    `version: 0.1\nlog:\n  level: info\n  accesslog:\n    disabled: false\n` +
    `storage:\n  filesystem:\n    rootdirectory: ${storageDir}\n  delete:\n    enabled: true\n` +
    `http:\n  addr: ${host}\n  secret: ${randomBytes(16).toString('hex')}\n${auth}`;
  const configFile = path.join(root, 'config.yml');
  await fs.writeFile(configFile, config);
  const child: ChildProcess = spawn('docker-registry', ['serve', configFile], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, OTEL_TRACES_EXPORTER: 'none' },
  });
  let log = '';
  child.stdout?.on('data', (c: Buffer) => (log += c.toString()));
  child.stderr?.on('data', (c: Buffer) => (log += c.toString()));
  const stop = async (): Promise<void> => {
    if (child.exitCode === null && child.pid !== undefined) {
      process.kill(child.pid, 'SIGTERM');
      await new Promise<void>((resolve) => {
        const timer = setTimeout(() => {
          if (child.pid !== undefined && child.exitCode === null)
            process.kill(child.pid, 'SIGKILL');
          resolve();
        }, 3000);
        child.once('exit', () => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
    await new Promise<void>((resolve) =>
      tokenServer ? tokenServer.close(() => resolve()) : resolve(),
    );
    await fs.rm(root, { recursive: true, force: true });
  };
  for (let i = 0; ; i++) {
    try {
      const res = await fetch(`http://${host}/v2/`);
      await res.body?.cancel();
      if (res.status === 200 || res.status === 401) break;
    } catch {
      /* not up yet */
    }
    if (i > 100 || child.exitCode !== null) {
      await stop();
      throw new Error(`docker-registry did not start on ${host}:\n${log}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return { host, root, storageDir, log: () => log, tokenRequests, stop };
}

/**
 * The token service of the distribution spec: GET realm?service=&scope= answers {token} for
 * anonymous pulls of public repositories, and for anyone who presents the user's basic auth.
 */
async function startTokenServer(
  root: string,
  user: TestUser,
  privatePrefix: string,
  requests: [string, string][],
): Promise<{ server: http.Server; realm: string; certFile: string }> {
  const keyFile = path.join(root, 'token.key');
  const certFile = path.join(root, 'token.crt');
  await runTool('openssl', [
    'req',
    '-x509',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:P-256',
    '-nodes',
    '-subj',
    '/CN=banger-test-token',
    '-days',
    '2',
    '-keyout',
    keyFile,
    '-out',
    certFile,
  ]);
  const key = createPrivateKey(await fs.readFile(keyFile));
  const certDer = new X509Certificate(await fs.readFile(certFile)).raw.toString('base64');
  const b64 = (v: unknown): string => Buffer.from(JSON.stringify(v)).toString('base64url');
  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    const scopes = url.searchParams.getAll('scope');
    const header = req.headers.authorization ?? '';
    const decoded = header.startsWith('Basic ')
      ? Buffer.from(header.slice(6), 'base64').toString()
      : '';
    const authed = decoded === `${user.username}:${user.password}`;
    requests.push([scopes.join(' '), authed ? user.username : '']);
    if (header !== '' && !authed) {
      res
        .writeHead(401, { 'content-type': 'application/json' })
        .end('{"details":"bad credentials"}');
      return;
    }
    const access = scopes.flatMap((scope) => {
      const [type, name, actions] = scope.split(':');
      if (type !== 'repository' || name === undefined) return [];
      if (name.startsWith(privatePrefix) && !authed) return [];
      return [{ type, name, actions: authed ? (actions ?? '').split(',') : ['pull'] }];
    });
    if (scopes.some((s) => s.split(':')[1]?.startsWith(privatePrefix)) && !authed) {
      res.writeHead(401, { 'www-authenticate': 'Basic realm="token"' }).end();
      return;
    }
    const now = Math.floor(Date.now() / 1000);
    const head = { alg: 'ES256', typ: 'JWT', x5c: [certDer] };
    const claims = {
      iss: 'banger-test-issuer',
      sub: authed ? user.username : '',
      aud: 'banger-test',
      exp: now + 600,
      nbf: now - 60,
      iat: now,
      jti: createHash('sha256').update(randomBytes(16)).digest('hex'),
      access,
    };
    const input = `${b64(head)}.${b64(claims)}`;
    const sig = sign('sha256', Buffer.from(input), { key, dsaEncoding: 'ieee-p1363' }).toString(
      'base64url',
    );
    res
      .writeHead(200, { 'content-type': 'application/json' })
      .end(JSON.stringify({ token: `${input}.${sig}` }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as net.AddressInfo).port;
  return { server, realm: `http://127.0.0.1:${String(port)}/token`, certFile };
}

/** Pushes an OCI layout directory to the registry with skopeo. */
export async function pushLayout(
  layoutDir: string,
  ref: string,
  options: { creds?: TestUser } = {},
): Promise<void> {
  const args = ['--insecure-policy', 'copy', '--quiet', '--dest-tls-verify=false'];
  if (options.creds)
    args.push('--dest-creds', `${options.creds.username}:${options.creds.password}`);
  args.push(`oci:${layoutDir}:latest`, `docker://${ref}`);
  await runTool('skopeo', args);
}

/** The blob file of `digest` in the registry's filesystem storage (to corrupt it). */
export function registryBlobPath(registry: TestRegistry, digest: string): string {
  const hex = digest.replace(/^sha256:/, '');
  return path.join(
    registry.storageDir,
    'docker/registry/v2/blobs/sha256',
    hex.slice(0, 2),
    hex,
    'data',
  );
}
