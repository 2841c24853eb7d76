import { describe, expect, it } from 'vitest';
import { parsePeerCred } from './peer-cred.js';

describe('banger-peercred output', () => {
  it('is "PID UID GID" and a newline, nothing else', () => {
    expect(parsePeerCred('123 1000 1001\n')).toEqual({ pid: 123, uid: 1000, gid: 1001 });
    for (const bad of [
      '',
      '123 1000\n',
      '123 1000 1001',
      '1 2 3\n4 5 6\n',
      '-1 0 0\n',
      'a b c\n',
    ]) {
      expect(() => parsePeerCred(bad)).toThrow(/cannot tell who is connecting/);
    }
  });
});
