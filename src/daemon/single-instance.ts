/**
 * One daemon per runtime directory. Two locks, because one is not enough:
 * - an abstract unix socket named after the runtime directory: binding it is atomic and the
 *   kernel frees it when the process dies (no stale lock after SIGKILL), but abstract sockets
 *   exist per network namespace;
 * - so a daemon also refuses to start while the daemon socket answers: a daemon started in
 *   another network namespace for the same home would otherwise replace its socket and race it.
 */
import net from 'node:net';
import { createHash } from 'node:crypto';
import { BangerError } from '../base/index.js';

export async function acquireInstanceLock(
  runtimeDir: string,
  daemonSocket: string,
): Promise<net.Server> {
  const name = `\0banger-daemon-${createHash('sha256').update(runtimeDir).digest('hex').slice(0, 24)}`;
  const server = net.createServer((socket) => socket.destroy());
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) => {
      reject(
        err.code === 'EADDRINUSE'
          ? new BangerError('conflict', `another banger daemon already serves ${runtimeDir}`)
          : err,
      );
    });
    server.listen(name, () => resolve());
  });
  server.unref();
  if (await answers(daemonSocket)) {
    server.close();
    throw new BangerError(
      'conflict',
      `another banger daemon (in another network namespace) already serves ${daemonSocket}`,
    );
  }
  return server;
}

function answers(socketPath: string): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect(socketPath);
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}
