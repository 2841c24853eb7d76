import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseConfig } from './config.js';

describe('[[file_sync]] in config.toml', () => {
  it('reads entries, expanding ~/ and normalising paths', () => {
    const config = parseConfig(
      '[[file_sync]]\nhost = "~/.gitconfig"\nguest = "/root/.gitconfig"\n' +
        '[[file_sync]]\nhost = "/etc/ssl/certs/"\nguest = "/root/certs/"\n',
    );
    expect(config.fileSync).toEqual([
      { host: path.join(os.homedir(), '.gitconfig'), guest: '/root/.gitconfig' },
      { host: '/etc/ssl/certs', guest: '/root/certs' },
    ]);
    expect(parseConfig('').fileSync).toEqual([]);
  });

  it.each([
    ['file_sync = "x"\n', 'file_sync must be an array of tables'],
    [
      '[[file_sync]]\nhost = "rel/path"\nguest = "/root/x"\n',
      'file_sync[0].host must be an absolute path',
    ],
    [
      '[[file_sync]]\nhost = "/a/../etc/shadow"\nguest = "/root/x"\n',
      'file_sync[0].host must not contain ..',
    ],
    [
      '[[file_sync]]\nhost = "/a"\nguest = "/etc/passwd"\n',
      'file_sync[0].guest must be an absolute path under /root',
    ],
    ['[[file_sync]]\nhost = "/a"\nguest = "/root"\n', 'under /root'],
    [
      '[[file_sync]]\nhost = "/a"\nguest = "/root/../etc/x"\n',
      'file_sync[0].guest must not contain ..',
    ],
    ['[[file_sync]]\nhost = "/a"\nguest = "root/x"\n', 'must be an absolute path under /root'],
    ['[[file_sync]]\nhost = "/a"\n', 'file_sync[0].guest must be a non-empty string'],
    [
      '[[file_sync]]\nhost = "/a"\nguest = "/root/a"\nmode = 1\n',
      'file_sync[0].mode is not a known key',
    ],
  ])('refuses %j naming the entry and the rule', (text, message) => {
    expect(() => parseConfig(text, '/x/config.toml')).toThrow(message);
  });
});
