/**
 * Saving a running QEMU guest and loading one into a fresh QEMU, with QEMU's migration over
 * unix sockets in the VM's run directory: no shell anywhere. QEMU's `exec:` URI would run its
 * command through /bin/sh, and `fd:` needs a descriptor passed over the QMP socket
 * (SCM_RIGHTS), which Node cannot send; a socket banger listens on (save) or QEMU listens on
 * (load) needs neither. Measured facts this builds on: HOST-NOTES.md, "Saving and restoring
 * a running guest".
 *
 * Two forms of saved state:
 *  - RAM in the stream: any running guest (`vm snapshot`); the stream holds the non-zero pages.
 *  - RAM in a file: a guest launched with a shared memory file (a warm template). With
 *    `x-ignore-shared` the stream holds device state only (tens of KiB); a restored VM maps
 *    the file privately, copy-on-write, so restoring reads nothing up front and every clone
 *    shares the template's pages in the host's page cache.
 */
import { createReadStream, createWriteStream, promises as fs } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { BangerError, run, sleep, spawnChild } from '../../base/index.js';
import type { SavedVmState } from '../backend.js';
import { QEMU_SOCKET_NAMES } from './launch-plan.js';
import type { QmpClient, QmpEvent } from './qmp-client.js';

/** The state file's name in a save directory. */
export const QEMU_STATE_FILE = 'qemu-state';
/** QEMU's default migration bandwidth cap is 32 MiB/s; a local save wants no cap at all. */
const MAX_BANDWIDTH = 64 * 1024 ** 3;
const POLL_MS = 5;

export interface QmpLink {
  qmp: Pick<QmpClient, 'execute' | 'onEvent'>;
  runDir: string;
  /** False once the VMM process is gone (a failed incoming migration ends QEMU). */
  isAlive: () => boolean;
}

async function removeSocket(file: string): Promise<void> {
  const st = await fs.lstat(file).catch(() => undefined);
  if (st?.isSocket()) await fs.rm(file, { force: true });
}

function deadlineError(what: string, timeoutMs: number): BangerError {
  return new BangerError('timeout', `${what} did not finish within ${String(timeoutMs)} ms`);
}

/**
 * Streams the running guest's state into `dir`. Returns once the state file is complete and
 * on disk; QEMU is then in `postmigrate` (the guest stopped): `cont` resumes it, `quit` ends it.
 */
export async function saveQemuState(
  link: QmpLink,
  options: {
    dir: string;
    /** The guest's RAM is this shared memory file: the stream leaves it out. */
    memoryFile?: string | undefined;
    whileStopped?: (() => Promise<void>) | undefined;
    signal?: AbortSignal | undefined;
    timeoutMs?: number;
  },
): Promise<SavedVmState> {
  const timeoutMs = options.timeoutMs ?? 120_000;
  const deadline = Date.now() + timeoutMs;
  const socketPath = path.join(link.runDir, QEMU_SOCKET_NAMES.outgoing);
  const stateFile = path.join(options.dir, QEMU_STATE_FILE);
  await removeSocket(socketPath);
  const server = net.createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(socketPath, () => resolve());
  });
  const connection = new Promise<net.Socket>((resolve) => server.once('connection', resolve));
  // 'wx': O_EXCL refuses any existing entry, a planted symlink included.
  const out = createWriteStream(stateFile, { flags: 'wx', mode: 0o600 });
  const opened = new Promise<void>((resolve, reject) => {
    out.once('open', () => resolve());
    out.once('error', reject);
  });
  let written: Promise<void> | undefined;
  let socket: net.Socket | undefined;
  let ok = false;
  try {
    await opened;
    await link.qmp.execute('migrate-set-capabilities', {
      capabilities: [{ capability: 'x-ignore-shared', state: options.memoryFile !== undefined }],
    });
    await link.qmp.execute('migrate-set-parameters', { 'max-bandwidth': MAX_BANDWIDTH });
    await link.qmp.execute('migrate', { uri: `unix:${socketPath}` });
    socket = await withTimeout(connection, deadline, 'QEMU connecting to the state socket');
    written = pipeline(socket, out);
    written.catch(() => undefined);
    await waitForMigration(link, { deadline, timeoutMs, signal: options.signal });
    // QEMU closes the stream once the last byte is out.
    await withTimeout(written, deadline, 'writing the saved state');
    await syncFile(stateFile);
    if (options.whileStopped) await options.whileStopped();
    ok = true;
  } finally {
    socket?.destroy();
    server.close();
    out.destroy();
    await removeSocket(socketPath);
    if (!ok) {
      await link.qmp.execute('migrate_cancel').catch(() => undefined);
      await fs.rm(stateFile, { force: true });
    }
  }
  return {
    backend: 'qemu',
    stateFile,
    memoryFile: options.memoryFile,
    compression: 'none',
  };
}

async function waitForMigration(
  link: QmpLink,
  options: { deadline: number; timeoutMs: number; signal?: AbortSignal | undefined },
): Promise<void> {
  for (;;) {
    options.signal?.throwIfAborted();
    const info = await link.qmp.execute<{ status?: string; 'error-desc'?: string }>(
      'query-migrate',
    );
    if (info.status === 'completed') return;
    if (info.status === 'failed' || info.status === 'cancelled') {
      throw new BangerError(
        'operation_failed',
        `saving the guest failed: ${info['error-desc'] ?? info.status}`,
      );
    }
    if (Date.now() > options.deadline) throw deadlineError('saving the guest', options.timeoutMs);
    await sleep(POLL_MS);
  }
}

/**
 * Streams `saved` into a QEMU started with `incoming` (and, for RAM in a file, that file as
 * a private memory backend). Resolves once the guest runs.
 */
export async function loadQemuState(
  link: QmpLink,
  saved: SavedVmState,
  options: { signal?: AbortSignal | undefined; timeoutMs?: number } = {},
): Promise<void> {
  const timeoutMs = options.timeoutMs ?? 60_000;
  const deadline = Date.now() + timeoutMs;
  const socketPath = path.join(link.runDir, QEMU_SOCKET_NAMES.incoming);
  let resumed = false;
  const stop = link.qmp.onEvent((event: QmpEvent) => {
    if (event.event === 'RESUME') resumed = true;
  });
  let socket: net.Socket | undefined;
  let feeding: Promise<void> | undefined;
  try {
    await link.qmp.execute('migrate-set-capabilities', {
      capabilities: [{ capability: 'x-ignore-shared', state: saved.memoryFile !== undefined }],
    });
    await removeSocket(socketPath);
    await link.qmp.execute('migrate-incoming', { uri: `unix:${socketPath}` });
    socket = await connectUnix(socketPath, deadline);
    feeding = feed(saved, socket);
    feeding.catch(() => undefined);
    for (;;) {
      options.signal?.throwIfAborted();
      if (!link.isAlive()) {
        throw new BangerError('operation_failed', 'QEMU exited while loading the saved guest');
      }
      if (resumed) break;
      const status = await link.qmp
        .execute<{ status?: string }>('query-status')
        .catch(() => ({ status: undefined }));
      if (status.status === 'running') break;
      if (Date.now() > deadline) throw deadlineError('loading the saved guest', timeoutMs);
      await sleep(POLL_MS);
    }
    // The guest runs: QEMU read all it needed and may have closed the socket before our side
    // saw its own end of the stream ("premature close"), which is no failure. A zstd that
    // failed is, though: it would have cut the stream short.
    await feeding.catch((err: unknown) => {
      if (saved.compression !== 'none') throw err;
    });
  } finally {
    stop();
    socket?.destroy();
    await removeSocket(socketPath);
  }
}

async function connectUnix(file: string, deadline: number): Promise<net.Socket> {
  for (;;) {
    try {
      const socket = net.createConnection({ path: file });
      await new Promise<void>((resolve, reject) => {
        socket.once('connect', resolve);
        socket.once('error', reject);
      });
      return socket;
    } catch (err) {
      if (Date.now() > deadline) {
        throw new BangerError('timeout', `cannot connect to QEMU's state socket ${file}`, {
          cause: err,
        });
      }
      await sleep(POLL_MS);
    }
  }
}

/** Writes the state into the socket: straight from the file, or through `zstd -d`. */
async function feed(saved: SavedVmState, socket: net.Socket): Promise<void> {
  if (saved.compression === 'none') {
    await pipeline(createReadStream(saved.stateFile), socket);
    return;
  }
  // The socket itself is the child's stdout: the bytes never pass through this process.
  const child = spawnChild('zstd', ['--decompress', '--quiet', '--stdout', '--', saved.stateFile], {
    stdio: ['ignore', socket, 'pipe'],
  });
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  const code = await new Promise<number | null>((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', (c) => resolve(c));
  });
  socket.end();
  if (code !== 0) {
    throw new BangerError(
      'operation_failed',
      `zstd could not read ${saved.stateFile} (exit ${String(code)}): ${stderr.trim()}`,
    );
  }
}

/**
 * Compresses a state file that holds guest RAM (zstd -1: fast, and 3-4x smaller), replacing
 * it. A state without RAM (RAM in a memory file) is tiny and stays as it is.
 */
export async function compressQemuState(
  saved: SavedVmState,
  options: { signal?: AbortSignal | undefined } = {},
): Promise<SavedVmState> {
  if (saved.compression !== 'none' || saved.memoryFile !== undefined) return saved;
  const target = `${saved.stateFile}.zst`;
  try {
    await run('zstd', ['-q', '-1', '--rm', '-o', target, '--', saved.stateFile], {
      timeoutMs: 10 * 60_000,
      ...(options.signal ? { signal: options.signal } : {}),
    });
  } catch (err) {
    await fs.rm(target, { force: true });
    throw err;
  }
  await fs.chmod(target, 0o600);
  return { ...saved, stateFile: target, compression: 'zstd' };
}

/** fsync: the saved state is on disk before anything relies on it. */
async function syncFile(file: string): Promise<void> {
  const handle = await fs.open(file, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

async function withTimeout<T>(work: Promise<T>, deadline: number, what: string): Promise<T> {
  const left = Math.max(1, deadline - Date.now());
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      work,
      new Promise<never>((_resolve, reject) => {
        timer = setTimeout(() => reject(deadlineError(what, left)), left);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}
