/**
 * The host AgentClient against the real banger-agent binary (over --connect-unix, no VM):
 * exec semantics, streams, exit statuses, terminals, errors.
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AgentClient, type ExecRequest, type ExecSession } from '../../src/guest/index.js';
import { buildGuestPrograms, childrenOf, startAgent, type AgentProcess } from './agent-harness.js';

const built = await buildGuestPrograms();

function text(stream: Readable): Promise<string> {
  return new Promise((resolve, reject) => {
    let out = '';
    stream.on('data', (d: Buffer) => (out += d.toString()));
    stream.on('end', () => resolve(out));
    stream.on('error', reject);
  });
}

describe.skipIf(!built)('banger-agent exec (real binary)', () => {
  let agent: AgentProcess;
  let client: AgentClient;
  let dir: string;

  beforeAll(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'bgx-'));
    agent = await startAgent();
    client = await AgentClient.connect(agent.socket, { timeoutMs: 5000 });
  });

  afterAll(async () => {
    client.close();
    await agent.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  function script(name: string, body: string): string {
    const file = path.join(dir, name);
    writeFileSync(file, body);
    return file;
  }

  async function runToEnd(request: ExecRequest, stdin?: string | Buffer) {
    const session = await client.exec(request);
    const [stdout, stderr] = [text(session.stdout), text(session.stderr)];
    session.stdin.end(stdin);
    return { exit: await session.exit, stdout: await stdout, stderr: await stderr };
  }

  it('handshakes with the real agent', () => {
    expect(client.hello.protocolVersion).toBe(1);
    expect(client.hello.capabilities).toEqual(
      expect.arrayContaining(['exec', 'pty', 'signal', 'resize', 'shutdown']),
    );
    expect(client.hello.bootId).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('keeps stdout and stderr apart and reports exit 7', async () => {
    const file = script('split.sh', 'echo to-stdout\necho to-stderr >&2\nexit 7\n');
    const result = await runToEnd({ argv: ['sh', file] });
    expect(result).toEqual({
      exit: { kind: 'exited', code: 7 },
      stdout: 'to-stdout\n',
      stderr: 'to-stderr\n',
    });
  });

  it('delivers 10 MiB of stdout byte-exact', async () => {
    const data = randomBytes(10 * 1024 * 1024);
    const file = path.join(dir, 'ten-mib.bin');
    writeFileSync(file, data);
    const session = await client.exec({ argv: ['cat', file] });
    session.stdin.end();
    const hash = createHash('sha256');
    let bytes = 0;
    for await (const chunk of session.stdout) {
      hash.update(chunk as Buffer);
      bytes += (chunk as Buffer).length;
    }
    expect(await session.exit).toEqual({ kind: 'exited', code: 0 });
    expect(bytes).toBe(data.length);
    expect(hash.digest('hex')).toBe(createHash('sha256').update(data).digest('hex'));
  });

  it('pipes stdin through (4 MiB, beyond any window)', async () => {
    const data = randomBytes(4 * 1024 * 1024);
    const result = await runToEnd({ argv: ['sha256sum'] }, data);
    expect(result.exit).toEqual({ kind: 'exited', code: 0 });
    expect(result.stdout.split(' ')[0]).toBe(createHash('sha256').update(data).digest('hex'));
  });

  it('applies the default environment, overrides and additions', async () => {
    const result = await runToEnd({ argv: ['env'], env: { FOO: 'bar baz', LANG: 'C' } });
    const env = new Map(
      result.stdout
        .trim()
        .split('\n')
        .map((line) => [line.slice(0, line.indexOf('=')), line.slice(line.indexOf('=') + 1)]),
    );
    expect(Object.fromEntries(env)).toEqual({
      PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
      HOME: '/root',
      USER: 'root',
      LOGNAME: 'root',
      LANG: 'C',
      FOO: 'bar baz',
    });
  });

  it('runs in the requested cwd, /root by default', async () => {
    expect((await runToEnd({ argv: ['pwd'], cwd: dir })).stdout).toBe(`${dir}\n`);
    expect((await runToEnd({ argv: ['pwd'] })).stdout).toBe('/root\n');
  });

  it('fails clearly for a missing cwd', async () => {
    await expect(client.exec({ argv: ['pwd'], cwd: '/no/such/dir' })).rejects.toMatchObject({
      code: 'not_found',
      message: expect.stringContaining('/no/such/dir does not exist') as unknown,
    });
  });

  it('fails with not_found for a missing command, by name or by path', async () => {
    await expect(client.exec({ argv: ['banger-no-such-command'] })).rejects.toMatchObject({
      code: 'not_found',
      message: expect.stringContaining('command not found: banger-no-such-command') as unknown,
      details: expect.objectContaining({ errno: 'ENOENT', stage: 'exec' }) as unknown,
    });
    await expect(client.exec({ argv: ['/no/such/program'] })).rejects.toMatchObject({
      code: 'not_found',
    });
  });

  it('fails with precondition_failed for a file that is not executable', async () => {
    const file = script('plain.txt', 'not a program\n');
    await expect(client.exec({ argv: [file] })).rejects.toMatchObject({
      code: 'precondition_failed',
      details: expect.objectContaining({ errno: 'EACCES' }) as unknown,
    });
  });

  it('reports a process killed by a signal', async () => {
    const session = await client.exec({ argv: ['sleep', '300'] });
    session.stdin.end();
    session.stdout.resume();
    session.stderr.resume();
    session.kill('SIGTERM');
    expect(await session.exit).toEqual({ kind: 'signaled', signal: 'SIGTERM', coreDumped: false });
  });

  it('signals the whole process group', async () => {
    const file = script('group.sh', 'sleep 300 &\nsleep 300 &\nwait\n');
    const session = await client.exec({ argv: ['sh', file] });
    session.stdin.end();
    session.stdout.resume();
    session.stderr.resume();
    await new Promise((r) => setTimeout(r, 200));
    session.kill('SIGKILL');
    // EXIT waits for stdout/stderr EOF: it only arrives if the background sleeps died too.
    expect(await session.exit).toEqual({ kind: 'signaled', signal: 'SIGKILL', coreDumped: false });
  });

  it('gives programs default signal dispositions (SIGPIPE ends `yes | head`)', async () => {
    const file = script('pipe.sh', 'yes | head -n 2\n');
    expect(await runToEnd({ argv: ['sh', file] })).toEqual({
      exit: { kind: 'exited', code: 0 },
      stdout: 'y\ny\n',
      stderr: '',
    });
  });

  it('runs on a pseudo-terminal in tty mode', async () => {
    const result = await runToEnd({ argv: ['tty'], tty: { rows: 30, cols: 100 } });
    expect(result.exit).toEqual({ kind: 'exited', code: 0 });
    expect(result.stdout).toMatch(/^\/dev\/pts\/\d+\r?\n$/);
    expect(result.stderr).toBe('');
    const size = await runToEnd({ argv: ['stty', 'size'], tty: { rows: 30, cols: 100 } });
    expect(size.stdout.trim()).toBe('30 100');
    const term = await runToEnd({ argv: ['printenv', 'TERM'], tty: { rows: 30, cols: 100 } });
    expect(term.stdout.trim()).toBe('xterm-256color');
  });

  it('resizes the terminal and turns stdin EOF into ^D', async () => {
    const file = script('resize.sh', 'stty size\nread line\nstty size\ncat\necho cat-done\n');
    const session: ExecSession = await client.exec({
      argv: ['sh', file],
      tty: { rows: 24, cols: 80, term: 'vt100' },
    });
    let out = '';
    session.stdout.on('data', (d: Buffer) => (out += d.toString()));
    while (!out.includes('24 80')) await new Promise((r) => setTimeout(r, 10));
    session.resize(40, 120);
    session.stdin.write('go\n');
    while (!out.includes('40 120')) await new Promise((r) => setTimeout(r, 10));
    // A partial line then EOF: cat must see the line and then the end (^D twice).
    session.stdin.end('partial');
    expect(await session.exit).toEqual({ kind: 'exited', code: 0 });
    expect(out).toContain('cat-done');
  });

  it('runs many commands at once on one connection', async () => {
    const results = await Promise.all(
      Array.from({ length: 16 }, (_, i) => runToEnd({ argv: ['echo', `job-${i}`] })),
    );
    results.forEach((result, i) => {
      expect(result).toEqual({
        exit: { kind: 'exited', code: 0 },
        stdout: `job-${i}\n`,
        stderr: '',
      });
    });
  });

  it('leaves no zombie behind', async () => {
    await runToEnd({ argv: ['true'] });
    await new Promise((r) => setTimeout(r, 100));
    expect(childrenOf(agent.pid)).toEqual([]);
  });
});
