import { describe, expect, it } from 'vitest';
import { parseChallenge } from './www-authenticate.js';

describe('parseChallenge', () => {
  it('reads a bearer challenge', () => {
    expect(
      parseChallenge(
        'Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/python:pull"',
      ),
    ).toEqual({
      scheme: 'bearer',
      params: {
        realm: 'https://auth.docker.io/token',
        service: 'registry.docker.io',
        scope: 'repository:library/python:pull',
      },
    });
  });

  it('reads basic, unquoted and escaped values', () => {
    expect(parseChallenge('Basic realm="x \\"y\\""')).toEqual({
      scheme: 'basic',
      params: { realm: 'x "y"' },
    });
    expect(parseChallenge('bearer realm=http://a/b')).toEqual({
      scheme: 'bearer',
      params: { realm: 'http://a/b' },
    });
  });

  it('ignores what it does not know', () => {
    expect(parseChallenge(null)).toBeUndefined();
    expect(parseChallenge('Negotiate abc')).toBeUndefined();
    expect(parseChallenge(`Bearer ${'x'.repeat(9000)}`)).toBeUndefined();
  });
});
