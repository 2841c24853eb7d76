import { describe, expect, it } from 'vitest';
import { defaultImageName, isLoopbackRegistry, parseImageReference } from './reference.js';

describe('parseImageReference', () => {
  it.each([
    [
      'python',
      'docker.io',
      'registry-1.docker.io',
      'library/python',
      'latest',
      'docker.io/library/python:latest',
    ],
    [
      'python:3.12',
      'docker.io',
      'registry-1.docker.io',
      'library/python',
      '3.12',
      'docker.io/library/python:3.12',
    ],
    [
      'docker.io/library/python:3.12',
      'docker.io',
      'registry-1.docker.io',
      'library/python',
      '3.12',
      'docker.io/library/python:3.12',
    ],
    [
      'index.docker.io/me/app',
      'docker.io',
      'registry-1.docker.io',
      'me/app',
      'latest',
      'docker.io/me/app:latest',
    ],
    [
      'ghcr.io/org/team/app:v1.2',
      'ghcr.io',
      'ghcr.io',
      'org/team/app',
      'v1.2',
      'ghcr.io/org/team/app:v1.2',
    ],
    [
      '127.0.0.1:5000/test/x:v1',
      '127.0.0.1:5000',
      '127.0.0.1:5000',
      'test/x',
      'v1',
      '127.0.0.1:5000/test/x:v1',
    ],
    ['localhost/x', 'localhost', 'localhost', 'x', 'latest', 'localhost/x:latest'],
  ])('%s', (text, domain, registry, repository, tag, canonical) => {
    expect(parseImageReference(text)).toEqual({ domain, registry, repository, tag, canonical });
  });

  it('keeps a digest, and a tag with it', () => {
    const digest = `sha256:${'a'.repeat(64)}`;
    expect(parseImageReference(`alpine@${digest}`)).toMatchObject({
      digest,
      canonical: `docker.io/library/alpine@${digest}`,
    });
    expect(parseImageReference(`alpine:3@${digest}`)).toMatchObject({ tag: '3', digest });
  });

  it.each([
    ['', /1-512 characters/],
    ['Python', /repository path/],
    ['a b', /without spaces/],
    ['x@sha512:abc', /sha256/],
    ['x:-bad', /invalid tag/],
    ['bad_host.:5000/x', /invalid registry host/],
    ['host:99999/x', /invalid registry host/],
    ['a//b', /repository path/],
  ])('refuses %j', (text, message) => {
    expect(() => parseImageReference(text)).toThrow(message);
  });
});

describe('defaultImageName and isLoopbackRegistry', () => {
  it('names an image after the repository and tag', () => {
    expect(defaultImageName(parseImageReference('python:3.12'))).toBe('python-3.12');
    expect(defaultImageName(parseImageReference('ghcr.io/o/App_x'.toLowerCase()))).toBe('app_x');
    expect(defaultImageName(parseImageReference(`alpine@sha256:${'b'.repeat(64)}`))).toBe(
      'alpine-bbbbbbbbbbbb',
    );
  });

  it('knows loopback registries', () => {
    expect(isLoopbackRegistry('127.0.0.1:5000')).toBe(true);
    expect(isLoopbackRegistry('localhost')).toBe(true);
    expect(isLoopbackRegistry('[::1]:5000')).toBe(true);
    expect(isLoopbackRegistry('registry.lan:5000')).toBe(false);
  });
});
