/**
 * Drives the real banger-agent binary without a VM: the test listens on a unix socket, the
 * agent connects to it (--connect-unix) and runs commands on this machine. `view()` gives a
 * detachable window onto the socket, so one byte stream can outlive a host "session", the
 * way a virtio-serial port outlives a daemon that was killed.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { Duplex } from 'node:stream';
import { run, spawnChild } from '../../src/base/index.js';

export const REPO_ROOT = path.resolve(import.meta.dirname, '..', '..');
export const GUEST_DIR = path.join(REPO_ROOT, 'build', 'guest');
/** BANGER_TEST_AGENT_BIN runs the tests against another build (ASan, for instance). */
export const AGENT_BIN = process.env.BANGER_TEST_AGENT_BIN ?? path.join(GUEST_DIR, 'banger-agent');

/** Builds the guest programs (make is incremental). Missing musl-gcc fails under CI=true. */
export async function buildGuestPrograms(): Promise<boolean> {
  const hasMusl = ['/usr/bin/musl-gcc', '/usr/local/bin/musl-gcc'].some((p) => existsSync(p));
  if (!hasMusl) {
    if (process.env.CI === 'true')
      throw new Error('musl-gcc is missing (apt-get install musl-tools)');
    return false;
  }
  await run('make', ['-s', '-C', path.join(REPO_ROOT, 'src', 'guest-agent'), `OUT=${GUEST_DIR}`], {
    timeoutMs: 120_000,
  });
  return true;
}

export interface AgentProcess {
  child: ReturnType<typeof spawnChild>;
  pid: number;
  socket: Socket;
  /** Resolves with the agent's exit code (null when killed by a signal). */
  exited: Promise<number | null>;
  stderr: () => string;
  stop(): Promise<void>;
}

/**
 * Starts the agent connected to a fresh unix socket. `netns: true` runs it in a network
 * namespace of its own (`unshare --net`, root only) so its sockets and /proc/net/tcp are
 * those of a "guest", not this machine's; its loopback starts down (bring it up with an exec).
 * `uts: true` gives it a hostname of its own too.
 */
export async function startAgent(
  extraArgs: string[] = [],
  options: { netns?: boolean; uts?: boolean } = {},
): Promise<AgentProcess> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'bga-'));
  const sock = path.join(dir, 'agent.sock');
  const server: Server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(sock, resolve);
  });
  const connection = new Promise<Socket>((resolve) => server.once('connection', resolve));
  const argv = ['--connect-unix', sock, ...extraArgs];
  // `uts`: a hostname of its own as well (RESTORE sets it), root only.
  const unshare = [...(options.netns ? ['--net'] : []), ...(options.uts ? ['--uts'] : [])];
  const child =
    unshare.length > 0
      ? spawnChild('unshare', [...unshare, '--', AGENT_BIN, ...argv], {
          stdio: ['ignore', 'ignore', 'pipe'],
        })
      : spawnChild(AGENT_BIN, argv, { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<number | null>((resolve) =>
    child.once('exit', (code) => resolve(code)),
  );
  const socket = await Promise.race([
    connection,
    exited.then((code) => {
      throw new Error(`banger-agent exited with ${String(code)} before connecting: ${stderr}`);
    }),
  ]);
  server.close();
  return {
    child,
    pid: child.pid ?? -1,
    socket,
    exited,
    stderr: () => stderr,
    async stop() {
      socket.destroy();
      const timer = setTimeout(() => child.kill('SIGKILL'), 3000);
      await exited;
      clearTimeout(timer);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/**
 * A Duplex onto the socket that never ends or destroys it: detach() (or destroying the view)
 * just stops passing bytes, like a host process that died. Bytes the socket delivers while
 * no view is attached are lost, as they would be in a dead process's buffers.
 */
export function view(socket: Socket): Duplex & { detach(): void } {
  let attached = true;
  const onData = (chunk: Buffer): void => {
    if (attached) stream.push(chunk);
  };
  const detach = (): void => {
    attached = false;
    socket.off('data', onData);
  };
  const stream = new Duplex({
    read() {
      /* pushed from the socket */
    },
    write(chunk: Buffer, _encoding, callback) {
      if (!attached) {
        callback();
        return;
      }
      if (socket.write(chunk)) callback();
      else socket.once('drain', () => callback());
    },
    final(callback) {
      callback();
    },
    destroy(error, callback) {
      detach();
      callback(error);
    },
  });
  socket.on('data', onData);
  return Object.assign(stream, { detach });
}

/** Children the process still has (zombies included), from /proc. */
export function childrenOf(pid: number): number[] {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8')
      .trim()
      .split(/\s+/)
      .filter((s) => s !== '')
      .map(Number);
  } catch {
    return [];
  }
}

export function processExists(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
