/**
 * A client for the OCI distribution API, just what a pull needs: manifests and blobs of one
 * repository, with token auth (anonymous, or basic credentials exchanged for a token), plain
 * basic auth, redirects that drop credentials when they leave the origin, ranged blob reads for
 * resuming, and a stall timeout. Bodies are bounded by the caller; nothing here is trusted.
 */
import { BangerError, notFound, operationFailed } from '../../base/index.js';
import type { Credentials } from './credentials.js';
import { isLoopbackRegistry } from './reference.js';
import { parseChallenge, type AuthChallenge } from './www-authenticate.js';
import { causeText, readLimited, streamBody } from '../http-body.js';

export interface RegistryClientOptions {
  /** host[:port] of the distribution API. */
  registry: string;
  repository: string;
  /** Plain HTTP (loopback registries, and those the user configured as insecure). */
  plainHttp: boolean;
  credentials?: Credentials;
  /** Abort a response that sends nothing for this long (default 60 s). */
  stallTimeoutMs?: number;
}

export interface ManifestResponse {
  body: Buffer;
  contentType: string;
}

export interface BlobResponse {
  /** Offset of the first byte of `body` (0 when the registry ignored the range). */
  start: number;
  body: AsyncIterable<Buffer>;
}

export const MANIFEST_ACCEPT = [
  'application/vnd.oci.image.index.v1+json',
  'application/vnd.docker.distribution.manifest.list.v2+json',
  'application/vnd.oci.image.manifest.v1+json',
  'application/vnd.docker.distribution.manifest.v2+json',
].join(', ');

const MAX_REDIRECTS = 5;
const MAX_TOKEN_BYTES = 64 * 1024;

export class RegistryClient {
  private readonly base: string;
  private authorization: string | undefined;

  constructor(private readonly options: RegistryClientOptions) {
    this.base = `${options.plainHttp ? 'http' : 'https'}://${options.registry}/v2/${options.repository}`;
  }

  /** GET a manifest by tag or digest; at most `maxBytes` of body. */
  async manifest(
    reference: string,
    options: { maxBytes: number; signal?: AbortSignal },
  ): Promise<ManifestResponse> {
    const res = await this.send(`${this.base}/manifests/${reference}`, {
      accept: MANIFEST_ACCEPT,
      signal: options.signal,
    });
    await this.check(res, `manifest ${reference}`);
    const body = await readLimited(res, options.maxBytes, `the manifest of ${this.what()}`);
    return {
      body,
      contentType: (res.headers.get('content-type') ?? '').split(';')[0]?.trim() ?? '',
    };
  }

  /** GET a blob from `offset` on (a Range request when offset > 0). */
  async blob(
    digest: string,
    options: { offset: number; signal?: AbortSignal },
  ): Promise<BlobResponse> {
    const controller = new AbortController();
    const onAbort = (): void => controller.abort(options.signal?.reason);
    options.signal?.addEventListener('abort', onAbort, { once: true });
    const release = (): void => options.signal?.removeEventListener('abort', onAbort);
    try {
      let res = await this.send(`${this.base}/blobs/${digest}`, {
        range: options.offset > 0 ? options.offset : undefined,
        signal: controller.signal,
      });
      let start = 0;
      if (res.status === 416 && options.offset > 0) {
        await res.body?.cancel();
        res = await this.send(`${this.base}/blobs/${digest}`, { signal: controller.signal });
      }
      await this.check(res, `blob ${digest}`);
      if (res.status === 206) {
        const m = /^bytes (\d+)-\d+\/(?:\d+|\*)$/.exec(res.headers.get('content-range') ?? '');
        start = Number(m?.[1] ?? NaN);
        if (start !== options.offset) {
          await res.body?.cancel();
          throw operationFailed(`${this.what()}: blob ${digest} came back from the wrong offset`);
        }
      }
      const body = streamBody(res, controller, {
        stallMs: this.options.stallTimeoutMs ?? 60_000,
        release,
      });
      return { start, body };
    } catch (err) {
      release();
      throw err;
    }
  }

  private what(): string {
    return `${this.options.registry}/${this.options.repository}`;
  }

  /** Sends with the current authorization; on a 401 answers the challenge once and retries. */
  private async send(
    url: string,
    request: { accept?: string; range?: number | undefined; signal?: AbortSignal | undefined },
  ): Promise<Response> {
    for (let attempt = 0; ; attempt++) {
      const headers: Record<string, string> = { 'user-agent': 'banger' };
      if (request.accept !== undefined) headers.accept = request.accept;
      if (request.range !== undefined) headers.range = `bytes=${String(request.range)}-`;
      if (this.authorization !== undefined) headers.authorization = this.authorization;
      const res = await this.fetchFollowing(url, headers, request.signal);
      if (res.status !== 401 || attempt > 0) return res;
      const challenge = parseChallenge(res.headers.get('www-authenticate'));
      await res.body?.cancel();
      if (challenge === undefined) return res;
      await this.authenticate(challenge, request.signal);
    }
  }

  private async authenticate(
    challenge: AuthChallenge,
    signal: AbortSignal | undefined,
  ): Promise<void> {
    const creds = this.options.credentials;
    if (challenge.scheme === 'basic') {
      if (creds === undefined) throw this.loginRequired();
      this.authorization = basic(creds);
      return;
    }
    const realmText = challenge.params.realm ?? '';
    let realm: URL;
    try {
      realm = new URL(realmText);
    } catch {
      throw operationFailed(
        `${this.what()}: the registry named an invalid token realm ${JSON.stringify(realmText)}`,
      );
    }
    if (realm.protocol !== 'https:' && realm.protocol !== 'http:') {
      throw operationFailed(`${this.what()}: token realm ${realmText} is not http(s)`);
    }
    if (challenge.params.service !== undefined)
      realm.searchParams.set('service', challenge.params.service);
    realm.searchParams.set(
      'scope',
      challenge.params.scope ?? `repository:${this.options.repository}:pull`,
    );
    const headers: Record<string, string> = { 'user-agent': 'banger' };
    if (creds !== undefined) {
      if (realm.protocol === 'http:' && !isLoopbackRegistry(realm.host)) {
        throw new BangerError(
          'unauthorized',
          `${this.what()}: refusing to send credentials to ${realm.origin} over plain HTTP`,
        );
      }
      headers.authorization = basic(creds);
    }
    const res = await this.fetchFollowing(realm.toString(), headers, signal);
    if (res.status === 401 || res.status === 403) {
      await res.body?.cancel();
      throw creds === undefined ? this.loginRequired() : this.credentialsRefused(res.status);
    }
    if (!res.ok) {
      await res.body?.cancel();
      throw operationFailed(
        `${this.what()}: token service ${realm.origin} answered HTTP ${String(res.status)}`,
      );
    }
    const body = await readLimited(res, MAX_TOKEN_BYTES, 'the token response');
    let token: unknown;
    try {
      const parsed = JSON.parse(body.toString('utf8')) as Record<string, unknown>;
      token = parsed.token ?? parsed.access_token;
    } catch {
      token = undefined;
    }
    if (typeof token !== 'string' || token === '' || /[\s\0-\x1f]/.test(token)) {
      throw operationFailed(`${this.what()}: the token service sent no usable token`);
    }
    this.authorization = `Bearer ${token}`;
  }

  /** fetch with redirects followed by hand: credentials never follow a redirect to another origin. */
  private async fetchFollowing(
    url: string,
    headers: Record<string, string>,
    signal: AbortSignal | undefined,
  ): Promise<Response> {
    let current = new URL(url);
    const origin = current.origin;
    for (let hop = 0; ; hop++) {
      const sent = { ...headers };
      if (current.origin !== origin) delete sent.authorization;
      let res: Response;
      try {
        res = await fetch(current, {
          headers: sent,
          redirect: 'manual',
          ...(signal ? { signal } : {}),
        });
      } catch (err) {
        if (signal?.aborted === true)
          throw new BangerError('canceled', `pulling from ${this.what()} was canceled`);
        throw new BangerError('unavailable', `cannot reach ${current.origin}: ${causeText(err)}`, {
          cause: err,
          hint: this.options.plainHttp ? undefined : 'is the registry up and reachable over HTTPS?',
        });
      }
      const location = res.headers.get('location');
      if (res.status < 300 || res.status >= 400 || location === null) return res;
      await res.body?.cancel();
      if (hop >= MAX_REDIRECTS) throw operationFailed(`${this.what()}: too many redirects`);
      current = new URL(location, current);
      if (current.protocol !== 'https:' && current.protocol !== 'http:') {
        throw operationFailed(`${this.what()}: redirect to a non-HTTP URL refused`);
      }
    }
  }

  private async check(res: Response, what: string): Promise<void> {
    if (res.ok) return;
    const detail = await errorDetail(res);
    if (res.status === 401 || res.status === 403) {
      throw this.options.credentials === undefined
        ? this.loginRequired()
        : this.credentialsRefused(res.status);
    }
    if (res.status === 404) {
      throw notFound(`${this.what()}: ${what} not found${detail}`, {
        hint: 'check the repository name and tag',
      });
    }
    throw operationFailed(`${this.what()}: ${what}: HTTP ${String(res.status)}${detail}`);
  }

  private loginRequired(): BangerError {
    return new BangerError('unauthorized', `${this.what()} requires a login to pull`, {
      hint: `pass --username USER --password-stdin, or log in with docker login ${this.options.registry}`,
    });
  }

  private credentialsRefused(status: number): BangerError {
    return new BangerError(
      'unauthorized',
      `${this.what()} refused the credentials of user ${JSON.stringify(this.options.credentials?.username)} (HTTP ${String(status)})`,
      { hint: 'check the username and password (or token) for this registry' },
    );
  }
}

function basic(creds: Credentials): string {
  return `Basic ${Buffer.from(`${creds.username}:${creds.password}`).toString('base64')}`;
}

/** The registry's own error text ({"errors":[{code,message}]}), briefly. */
async function errorDetail(res: Response): Promise<string> {
  try {
    const body = await readLimited(res, 16 * 1024, 'error');
    const parsed = JSON.parse(body.toString('utf8')) as {
      errors?: { code?: unknown; message?: unknown }[];
    };
    const first = parsed.errors?.[0];
    if (first === undefined) return '';
    return ` (${String(first.code)}: ${String(first.message).slice(0, 200)})`;
  } catch {
    return '';
  }
}
