/**
 * Who is on the other end of a connection. Node has no getsockopt, so the helper hands each
 * accepted socket, as standard input, to banger-peercred (peercred.c, 30 lines, static), which
 * asks the kernel for SO_PEERCRED: the pid, uid and gid of the process that called connect(),
 * recorded by the kernel at that moment and not forgeable by the peer. The child never reads
 * the socket. Anything unexpected (no binary, odd output, a slow child) refuses the connection.
 */
import type net from 'node:net';
import { BangerError, spawnChild } from '../base/index.js';

export interface PeerCred {
  pid: number;
  uid: number;
  gid: number;
}

const PEERCRED_TIMEOUT_MS = 5000;

export function parsePeerCred(text: string): PeerCred {
  const m = /^(\d{1,10}) (\d{1,10}) (\d{1,10})\n$/.exec(text);
  const [pid, uid, gid] = [Number(m?.[1]), Number(m?.[2]), Number(m?.[3])];
  if (m === null || !(uid <= 0xffffffff && gid <= 0xffffffff && pid <= 0x7fffffff)) {
    throw new BangerError(
      'unauthorized',
      'cannot tell who is connecting (banger-peercred printed nonsense)',
    );
  }
  return { pid, uid, gid };
}

/** Asks the kernel (through banger-peercred) who connected `socket`. */
export function readPeerCred(socket: net.Socket, peercredBinary: string): Promise<PeerCred> {
  return new Promise((resolve, reject) => {
    const child = spawnChild(peercredBinary, [], {
      stdio: [socket, 'pipe', 'pipe'],
      env: {},
    });
    let out = '';
    let err = '';
    child.stdout?.on('data', (chunk: Buffer) => (out = (out + chunk.toString()).slice(0, 256)));
    child.stderr?.on('data', (chunk: Buffer) => (err = (err + chunk.toString()).slice(0, 512)));
    const timer = setTimeout(() => child.kill('SIGKILL'), PEERCRED_TIMEOUT_MS);
    child.once('error', (error) => {
      clearTimeout(timer);
      reject(
        new BangerError('unauthorized', `cannot check the peer's credentials: ${error.message}`, {
          hint: `is ${peercredBinary} installed? (npm run build; banger system install)`,
        }),
      );
    });
    child.once('close', (code) => {
      clearTimeout(timer);
      if (code !== 0) {
        reject(
          new BangerError(
            'unauthorized',
            `cannot check the peer's credentials: ${err.trim() || `exit status ${String(code)}`}`,
          ),
        );
        return;
      }
      try {
        resolve(parsePeerCred(out));
      } catch (error) {
        reject(error instanceof Error ? error : new Error(String(error)));
      }
    });
  });
}

/** The connection gate: root and the install's owner pass, everybody else is refused. */
export function peerGate(options: {
  ownerUid: number;
  peercredBinary: string;
  onChecked?: (cred: PeerCred, allowed: boolean) => void;
}): (socket: net.Socket) => Promise<void> {
  return async (socket) => {
    const cred = await readPeerCred(socket, options.peercredBinary);
    const allowed = cred.uid === 0 || cred.uid === options.ownerUid;
    options.onChecked?.(cred, allowed);
    if (!allowed) {
      throw new BangerError(
        'unauthorized',
        `bangerd-root serves only root and the install's owner (uid ${String(options.ownerUid)}); this connection comes from uid ${String(cred.uid)} (pid ${String(cred.pid)})`,
      );
    }
  };
}
