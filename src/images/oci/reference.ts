/**
 * Image references as Docker writes them (`python:3.12`, `ghcr.io/org/app@sha256:...`),
 * parsed by the distribution grammar and normalised the way Docker does: no domain means
 * Docker Hub, and a one-part Hub name lives under `library/`.
 */
import { badRequest } from '../../base/index.js';
import { IMAGE_NAME_PATTERN } from '../image-name.js';

export interface ImageReference {
  /** Domain as normalised (docker.io, ghcr.io, 127.0.0.1:5000). */
  domain: string;
  /** Host (and port) the distribution API is served on (registry-1.docker.io for Docker Hub). */
  registry: string;
  /** Repository path, e.g. library/python. */
  repository: string;
  /** Tag (latest when neither tag nor digest was given). */
  tag?: string;
  /** sha256 digest pinned by the reference. */
  digest?: string;
  /** The full normalised reference, e.g. docker.io/library/python:3.12. */
  canonical: string;
}

const COMPONENT = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;
const TAG = /^[\w][\w.-]{0,127}$/;
export const DIGEST_PATTERN = /^sha256:[a-f0-9]{64}$/;
const HOSTNAME =
  /^(?:[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*$/;
const IPV6 = /^\[[0-9A-Fa-f:.]+\]$/;
const DOCKER_HUB = 'docker.io';
const DOCKER_HUB_REGISTRY = 'registry-1.docker.io';

export function parseImageReference(text: string): ImageReference {
  const bad = (rule: string): Error =>
    badRequest(`image reference ${JSON.stringify(text)} ${rule}`, {
      hint: 'write it as [registry/]repository[:tag][@sha256:digest], e.g. docker.io/library/python:3.12',
    });
  if (typeof text !== 'string' || text === '' || text.length > 512 || /[\s\0]/.test(text)) {
    throw bad('must be 1-512 characters without spaces');
  }
  let rest = text;
  let digest: string | undefined;
  const at = rest.indexOf('@');
  if (at !== -1) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
    if (!DIGEST_PATTERN.test(digest)) {
      throw bad(
        'has a digest that is not sha256:<64 lowercase hex digits> (the only kind supported)',
      );
    }
  }
  let tag: string | undefined;
  const colon = rest.lastIndexOf(':');
  if (colon > rest.lastIndexOf('/')) {
    tag = rest.slice(colon + 1);
    rest = rest.slice(0, colon);
    if (!TAG.test(tag)) throw bad(`has an invalid tag ${JSON.stringify(tag)}`);
  }
  const parts = rest.split('/');
  let domain = DOCKER_HUB;
  const first = parts[0] ?? '';
  if (parts.length > 1 && (first.includes('.') || first.includes(':') || first === 'localhost')) {
    domain = first;
    parts.shift();
    checkDomain(domain, bad);
  }
  if (domain === 'index.docker.io') domain = DOCKER_HUB;
  if (parts.length === 0 || parts.some((p) => !COMPONENT.test(p))) {
    throw bad(
      'has a repository path that is not lowercase [a-z0-9] parts joined by ".", "_", "__" or "-"',
    );
  }
  if (domain === DOCKER_HUB && parts.length === 1) parts.unshift('library');
  const repository = parts.join('/');
  if (repository.length > 255) throw bad('has a repository path longer than 255 characters');
  if (tag === undefined && digest === undefined) tag = 'latest';
  const registry = domain === DOCKER_HUB ? DOCKER_HUB_REGISTRY : domain;
  const canonical = `${domain}/${repository}${tag === undefined ? '' : `:${tag}`}${digest === undefined ? '' : `@${digest}`}`;
  const ref: ImageReference = { domain, registry, repository, canonical };
  if (tag !== undefined) ref.tag = tag;
  if (digest !== undefined) ref.digest = digest;
  return ref;
}

function checkDomain(domain: string, bad: (rule: string) => Error): void {
  const m = /^(.*?)(?::([0-9]{1,5}))?$/.exec(domain);
  const host = m?.[1] ?? '';
  const port = m?.[2];
  if ((!HOSTNAME.test(host) && !IPV6.test(host)) || (port !== undefined && Number(port) > 65535)) {
    throw bad(`has an invalid registry host ${JSON.stringify(domain)}`);
  }
}

/** True for registries on this machine, which Docker (and banger) reach over plain HTTP. */
export function isLoopbackRegistry(registry: string): boolean {
  const host = registry.replace(/:[0-9]+$/, '');
  return host === 'localhost' || /^127\.\d+\.\d+\.\d+$/.test(host) || host === '[::1]';
}

/** A name for the pulled image: the repository's last part and the tag (python-3.12). */
export function defaultImageName(ref: ImageReference): string {
  const last = ref.repository.split('/').pop() ?? 'image';
  const suffix = ref.tag ?? ref.digest?.slice(7, 19) ?? '';
  const name = `${last}${suffix === '' || suffix === 'latest' ? '' : `-${suffix}`}`
    .toLowerCase()
    .replace(/[^a-z0-9._-]+/g, '-')
    .replace(/^[^a-z0-9]+/, '')
    .slice(0, 64);
  if (!IMAGE_NAME_PATTERN.test(name)) {
    throw badRequest(`cannot make an image name from ${ref.canonical}`, {
      hint: 'give one with --name',
    });
  }
  return name;
}
