/**
 * bangerd-root's access to the owner's files (helper/owner-files.ts), as root against a real
 * unprivileged user's directory: new files are born the owner's, and nothing the owner can
 * plant (a symlink anywhere on the path, a FIFO, a file of root's, a directory others may
 * write) steers root into creating, opening or handing over anything else.
 */
import { existsSync, mkdtempSync, promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openOwnerFile, type OwnerTree } from '../../src/helper/owner-files.js';
import { requirePrerequisite } from '../support/banger-home.js';
import { createUser, removeUser, runAs, type TestUser } from '../support/system-install.js';

const isRoot = requirePrerequisite(process.getuid?.() === 0, 'root');

describe.skipIf(!isRoot)('root opening the owner’s files', () => {
  let owner: TestUser;
  let root: string;
  let tree: OwnerTree;
  let dir: string;

  beforeAll(async () => {
    owner = await createUser('bgf');
    root = mkdtempSync(path.join(os.tmpdir(), 'bgof-'));
    await fs.chmod(root, 0o755);
    await fs.chown(root, owner.uid, owner.gid);
    await fs.chmod(root, 0o700);
    tree = { roots: [root], uid: owner.uid, gid: owner.gid };
    dir = path.join(root, 'vm');
    await runAs(owner, ['mkdir', '-m', '0700', dir]);
  });

  afterAll(async () => {
    await fs.rm(root, { recursive: true, force: true });
    await removeUser(owner);
  });

  const open = (file: string, mode: 'append' | 'read' | 'fresh' = 'append') =>
    openOwnerFile(tree, { file, field: 'logPath', mode });

  it('creates a missing file as the owner’s, 0600', async () => {
    const handle = await open(path.join(dir, 'vmm.log'));
    await handle.write('hello\n');
    await handle.close();
    const st = await fs.stat(path.join(dir, 'vmm.log'));
    expect([st.uid, st.gid, st.mode & 0o777]).toEqual([owner.uid, owner.gid, 0o600]);
  });

  it('refuses a symlink as the file, or anywhere on the way, without touching its target', async () => {
    await runAs(owner, ['ln', '-s', '/etc/hostname', path.join(dir, 'link.log')]);
    await expect(open(path.join(dir, 'link.log'))).rejects.toThrow(/is a symlink/);
    await runAs(owner, ['ln', '-s', '/etc', path.join(root, 'etc-link')]);
    await expect(open(path.join(root, 'etc-link', 'banger-x.log'))).rejects.toThrow(/symlink/);
    await expect(open(path.join(root, 'etc-link', 'default', 'banger-x.log'))).rejects.toThrow(
      /reached through a symlink/,
    );
    expect(existsSync('/etc/banger-x.log')).toBe(false);
    expect(existsSync('/etc/default/banger-x.log')).toBe(false);
  });

  it('refuses a FIFO at once instead of blocking, and a file that is not the owner’s', async () => {
    await runAs(owner, ['mkfifo', path.join(dir, 'fifo.log')]);
    await expect(open(path.join(dir, 'fifo.log'))).rejects.toThrow();
    await expect(open(path.join(dir, 'fifo.log'), 'read')).rejects.toThrow(/regular file/);
    await fs.writeFile(path.join(dir, 'roots.log'), 'x');
    await expect(open(path.join(dir, 'roots.log'))).rejects.toThrow(/regular file of uid/);
    expect((await fs.stat(path.join(dir, 'roots.log'))).uid).toBe(0);
  });

  it('refuses paths outside the roots and directories that are not the owner’s alone', async () => {
    await expect(open('/etc/passwd')).rejects.toThrow(/must lie under/);
    await expect(open(`${root}/../x.log`)).rejects.toThrow(/normalised/);
    const shared = path.join(root, 'shared');
    await runAs(owner, ['mkdir', '-m', '0777', shared]);
    await fs.chmod(shared, 0o777);
    await expect(open(path.join(shared, 'x.log'))).rejects.toThrow(/nobody else can write/);
    const rootsDir = path.join(root, 'rootdir');
    await fs.mkdir(rootsDir, { mode: 0o700 });
    await expect(open(path.join(rootsDir, 'x.log'))).rejects.toThrow(/directory of uid/);
    expect(existsSync(path.join(rootsDir, 'x.log'))).toBe(false);
  });

  it('replaces a file with a fresh empty one of the owner’s', async () => {
    const file = JSON.stringify(path.join(dir, 'metrics.json'));
    await runAs(owner, [process.execPath, '-e', `require('fs').writeFileSync(${file}, 'old')`]);
    const handle = await open(path.join(dir, 'metrics.json'), 'fresh');
    await handle.close();
    const st = await fs.stat(path.join(dir, 'metrics.json'));
    expect([st.size, st.uid]).toEqual([0, owner.uid]);
  });
});
