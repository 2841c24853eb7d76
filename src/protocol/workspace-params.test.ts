import { describe, expect, it } from 'vitest';
import { parseVmExecParams, parseVmRunParams } from './rpc-params.js';
import {
  isGuestWorkspacePath,
  parseWorkspaceExportParams,
  parseWorkspacePrepareParams,
  parseWorkspaceSpec,
} from './workspace-params.js';

describe('workspace params', () => {
  it('accepts a full spec and fills defaults', () => {
    expect(parseWorkspaceSpec({ path: '/home/me/repo' }, 'w')).toEqual({
      path: '/home/me/repo',
      includeUntracked: false,
    });
    expect(
      parseWorkspaceSpec(
        {
          path: '/r',
          guestPath: '/srv/app',
          includeUntracked: true,
          branch: 'agent/fix-1',
          from: 'origin/main',
        },
        'w',
      ),
    ).toEqual({
      path: '/r',
      guestPath: '/srv/app',
      includeUntracked: true,
      branch: 'agent/fix-1',
      from: 'origin/main',
    });
  });

  it.each([
    [{ path: 'relative' }, 'w.path must be an absolute host path'],
    [{ path: '/r', guestPath: '/root' }, 'w.guestPath must be an absolute, normalised path'],
    [{ path: '/r', guestPath: '/etc/app' }, 'outside /proc'],
    [{ path: '/r', guestPath: '/root/../etc' }, 'w.guestPath'],
    [{ path: '/r', guestPath: '/lib64/x' }, 'w.guestPath'],
    [{ path: '/r', branch: '-x' }, 'w.branch must be a git branch name'],
    [{ path: '/r', branch: 'a b' }, 'w.branch must be a git branch name'],
    [{ path: '/r', from: 'main' }, 'w.from needs a branch'],
    [{ path: '/r', branch: 'b', from: '--upload-pack=x' }, 'w.from must be a git commit-ish'],
    [{ path: '/r', extra: 1 }, 'w.extra is not a known field'],
  ])('refuses %j', (value, message) => {
    expect(() => parseWorkspaceSpec(value, 'w')).toThrow(message);
  });

  it('knows which guest paths a workspace may replace', () => {
    for (const ok of ['/root/repo', '/home/dev/src', '/srv/a/b', '/tmp/x', '/opt/w'])
      expect(isGuestWorkspacePath(ok)).toBe(true);
    for (const bad of [
      '/',
      '/root',
      '/root/',
      '//root/x',
      '/usr/src/x',
      '/var/x',
      '/root/./x',
      'root/x',
    ])
      expect(isGuestWorkspacePath(bad)).toBe(false);
  });

  it('rides along vm.run and vm.exec, and has its own methods', () => {
    const run = parseVmRunParams({
      rm: true,
      exec: { argv: ['make', 'test'] },
      workspace: { path: '/r', includeUntracked: true },
    });
    expect(run.workspace).toEqual({ path: '/r', includeUntracked: true });
    expect(parseVmRunParams({ exec: { argv: [] } }).workspace).toBeUndefined();
    expect(
      parseVmExecParams({ ref: 'dev', exec: { argv: ['true'] }, autoPrepare: true }).autoPrepare,
    ).toBe(true);
    expect(parseVmExecParams({ ref: 'dev', exec: { argv: ['true'] } }).autoPrepare).toBeUndefined();
    expect(parseWorkspacePrepareParams({ ref: 'dev', workspace: { path: '/r' } })).toEqual({
      ref: 'dev',
      workspace: { path: '/r', includeUntracked: false },
      force: false,
    });
    expect(parseWorkspaceExportParams({ ref: 'dev', baseCommit: 'HEAD~2' })).toEqual({
      ref: 'dev',
      baseCommit: 'HEAD~2',
    });
    expect(() => parseWorkspaceExportParams({ ref: 'dev', baseCommit: '-p' })).toThrow(
      'commit-ish',
    );
  });
});
