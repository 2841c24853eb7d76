/**
 * Shipping a 5,000-file repository with a 50 MiB binary into a running VM:
 * `banger vm workspace prepare` (git-aware: history, modes, the tree as shipped, over the
 * agent channel) vs `git archive HEAD | ssh root@guest tar -x` (OpenSSH over a TCP endpoint
 * forwarded to the guest's sshd, banger's key and pinned host key), against the same VM.
 */
import net from 'node:net';
import path from 'node:path';
import { BangerError } from '../../src/base/index.js';
import { compare } from '../harness/compare.js';
import { makeShipRepo } from '../harness/repo-fixture.js';
import { sizeFlags, type BenchContext, type Metric } from './metric.js';

const VM = 'bench-ship';

async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

function sshArgv(ctx: BenchContext, port: number, remote: string): string[] {
  const { layout } = ctx.home;
  return [
    '-p',
    String(port),
    '-o',
    `UserKnownHostsFile=${layout.sshKnownHostsFile}`,
    '-o',
    `HostKeyAlias=${VM}.vm`,
    '-o',
    'StrictHostKeyChecking=yes',
    '-o',
    'GlobalKnownHostsFile=/dev/null',
    '-i',
    layout.sshKeyFile,
    '-o',
    'IdentitiesOnly=yes',
    '-o',
    'BatchMode=yes',
    '-F',
    '/dev/null',
    'root@127.0.0.1',
    remote,
  ];
}

export const shipRepo: Metric = {
  name: 'ship-repo',
  banger:
    '`banger vm workspace prepare VM REPO` of 5,000 files + a 50 MiB binary (with git history)',
  baseline:
    '`git archive HEAD | ssh root@guest tar -x` of the same repo into the same VM (OpenSSH)',
  async run(ctx) {
    const repo = await makeShipRepo(ctx.children, path.join(ctx.home.root, 'ship-repo'));
    // The shipped work tree needs room for every run: a work disk larger than the default.
    await ctx.home.ok(['vm', 'create', '--name', VM, '--disk-size', '8G', ...sizeFlags(ctx.vm)], {
      signal: ctx.signal,
    });
    try {
      await ctx.home.ok(['vm', 'ssh', VM, '--', 'true'], { signal: ctx.signal });
      const port = await freePort();
      await ctx.home.ok(['vm', 'forward', VM, `${String(port)}:22`], { signal: ctx.signal });
      let seq = 0;
      const clean = async (dir: string): Promise<void> => {
        await ctx.home.ok(['vm', 'exec', '-w', '/root', VM, '--', 'rm', '-rf', dir], {
          signal: ctx.signal,
        });
      };
      return [
        await compare(ctx, {
          name: 'ship-repo',
          unit: 's',
          banger: async () => {
            const dir = `/root/ship-${String(seq++)}`;
            const r = await ctx.home.ok(
              ['vm', 'workspace', 'prepare', VM, repo, '--guest-path', dir],
              {
                signal: ctx.signal,
                timeoutMs: 900_000,
              },
            );
            await clean(dir);
            return r.seconds;
          },
          baseline: async () => {
            const dir = `/root/ssh-${String(seq++)}`;
            const r = await ctx.children.pipe(
              { file: 'git', argv: ['-C', repo, 'archive', '--format=tar', 'HEAD'] },
              { file: 'ssh', argv: sshArgv(ctx, port, `mkdir -p ${dir} && tar -x -C ${dir}`) },
              { env: ctx.home.env, signal: ctx.signal, timeoutMs: 900_000 },
            );
            if (r.code !== 0) {
              throw new BangerError(
                'operation_failed',
                `git archive | ssh tar -x exited ${String(r.code ?? r.signal)}: ${r.stderr.trim()}`,
              );
            }
            await clean(dir);
            return r.seconds;
          },
        }),
      ];
    } finally {
      await ctx.home.cli(['vm', 'delete', VM]);
    }
  },
};
