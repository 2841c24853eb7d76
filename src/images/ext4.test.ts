import { describe, expect, it } from 'vitest';
import { assertInImagePath, parseDebugfsLs, parseDebugfsStat } from './ext4.js';
import { parseMountInfo } from './scratch-dir.js';

describe('parseDebugfsStat', () => {
  it('reads type, mode, owner and size of a file', () => {
    const text = `Inode: 3254   Type: regular    Mode:  0755   Flags: 0x80000
Generation: 0    Version: 0x00000000:00000000
User:     0   Group:     0   Project:     0   Size: 1265432
`;
    expect(parseDebugfsStat(text)).toEqual({
      inode: 3254,
      type: 'regular',
      mode: 0o755,
      uid: 0,
      gid: 0,
      size: 1265432,
    });
  });

  it('reads a fast symlink target', () => {
    const text = `Inode: 596   Type: symlink    Mode:  0777   Flags: 0x0
User:     0   Group:     0   Project:     0   Size: 8
Fast link dest: "usr/sbin"
`;
    expect(parseDebugfsStat(text)).toMatchObject({ type: 'symlink', linkTarget: 'usr/sbin' });
  });

  it('calls device nodes "other"', () => {
    const text =
      'Inode: 18   Type: character special    Mode:  0666   Flags: 0x0\nUser:  0 Group: 0  Size: 0\n';
    expect(parseDebugfsStat(text).type).toBe('other');
  });

  it('refuses output it does not understand', () => {
    expect(() => parseDebugfsStat('garbage')).toThrow(/could not read debugfs stat output/);
  });
});

describe('parseDebugfsLs', () => {
  it('parses ls -p lines and skips . and ..', () => {
    const text = `/232/040755/0/0/.//
/29/040755/0/0/..//
/236/100600/0/0/ssh_host_ecdsa_key/492/
/235/040755/0/0/ssh_config.d//
/9/120777/0/0/a link/8/
`;
    expect(parseDebugfsLs(text)).toEqual([
      { name: 'ssh_host_ecdsa_key', inode: 236, type: 'regular', mode: 0o600, uid: 0, gid: 0 },
      { name: 'ssh_config.d', inode: 235, type: 'directory', mode: 0o755, uid: 0, gid: 0 },
      { name: 'a link', inode: 9, type: 'symlink', mode: 0o777, uid: 0, gid: 0 },
    ]);
  });
});

describe('assertInImagePath', () => {
  it.each(['/', '/usr/sbin/banger-init', '/etc/ssh/', '/var/lib/dpkg/status'])(
    'accepts %s',
    (p) => {
      expect(assertInImagePath(p)).toBe(p);
    },
  );

  it.each(['usr/sbin', '/a b', '/a"b', '/../etc', '/a/./b', '/a\nstat /', "/a'b", '/a;b', ''])(
    'refuses %j (it would be parsed by debugfs)',
    (p) => {
      expect(() => assertInImagePath(p)).toThrow(/invalid path inside an image/);
    },
  );
});

describe('parseMountInfo', () => {
  it('reads mount points and decodes octal escapes', () => {
    const text = `22 1 254:0 / / rw,relatime shared:1 - ext4 /dev/vda rw
30 22 0:5 / /tmp/build\\040dir/root/proc rw - proc proc rw
`;
    expect(parseMountInfo(text)).toEqual(['/', '/tmp/build dir/root/proc']);
  });
});
