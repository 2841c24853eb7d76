/**
 * `banger vm exec NAME -- true` vs `ssh root@guest true` (the system's OpenSSH client) to the
 * same running VM. ssh reaches the guest's sshd over TCP at a host endpoint that banger
 * forwards into the guest (an explicit `vm forward` on 127.0.0.1, the same path as the VM's
 * automatic per-VM address), with banger's key and pinned host key; everything else is
 * OpenSSH's defaults, as a user typing `ssh root@guest` would get.
 */
import net from 'node:net';
import { BangerError } from '../../src/base/index.js';
import { compare } from '../harness/compare.js';
import { sizeFlags, type BenchContext, type Metric } from './metric.js';

const VM = 'bench-exec';

async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

function sshArgs(ctx: BenchContext, port: number): string[] {
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
    'true',
  ];
}

export const execTrue: Metric = {
  name: 'exec-true',
  banger: 'wall time of `banger vm exec VM -- true` in a running VM (CLI, RPC, agent exec)',
  baseline:
    '`ssh root@guest true` with OpenSSH (defaults; banger`s key, pinned host key) to the same VM, over a TCP endpoint forwarded to its sshd',
  async run(ctx) {
    await ctx.home.ok(['vm', 'create', '--name', VM, ...sizeFlags(ctx.vm)], {
      signal: ctx.signal,
    });
    try {
      // Untimed: pins the guest's host key in banger's known_hosts and waits for sshd.
      await ctx.home.ok(['vm', 'ssh', VM, '--', 'true'], { signal: ctx.signal });
      const port = await freePort();
      await ctx.home.ok(['vm', 'forward', VM, `${String(port)}:22`], { signal: ctx.signal });
      return [
        await compare(ctx, {
          name: 'exec-true',
          unit: 's',
          banger: async () => {
            const r = await ctx.home.ok(['vm', 'exec', VM, '--', 'true'], { signal: ctx.signal });
            return r.seconds;
          },
          baseline: async () => {
            const r = await ctx.home.program('ssh', sshArgs(ctx, port), {
              signal: ctx.signal,
              timeoutMs: 120_000,
            });
            if (r.code !== 0) {
              throw new BangerError(
                'operation_failed',
                `ssh root@guest true exited ${String(r.code ?? r.signal)}: ${r.stderr.trim()}`,
              );
            }
            return r.seconds;
          },
        }),
      ];
    } finally {
      await ctx.home.cli(['vm', 'delete', VM]);
    }
  },
};
