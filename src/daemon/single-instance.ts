/**
 * One daemon per runtime directory. The lock is an abstract unix socket named after the
 * runtime directory: binding it is atomic, and the kernel releases it when the process dies,
 * so a daemon killed with SIGKILL never leaves a stale lock behind.
 */
import net from 'node:net';
import { createHash } from 'node:crypto';
import { BangerError } from '../base/index.js';

export async function acquireInstanceLock(runtimeDir: string): Promise<net.Server> {
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
  return server;
}
