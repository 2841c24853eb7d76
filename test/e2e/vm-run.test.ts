import { createHash } from 'node:crypto';
import { describe, expect, inject, it } from 'vitest';
import { BangerHome } from '../support/banger-home.js';

const home = BangerHome.open(inject('e2eHome'));

describe('banger vm run (real microVM, agent exec)', () => {
  it('returns stdout and stderr on their own streams and the exit status', async () => {
    const r = await home.run([
      'vm',
      'run',
      '--rm',
      '--',
      'sh',
      '-c',
      'echo out; echo err >&2; exit 7',
    ]);
    expect(r.code).toBe(7);
    expect(r.out).toBe('out\n');
    expect(r.stderr).toBe('err\n');
  });

  it('delivers a 10 MiB stdout byte-exact', async () => {
    const script = 'i=0; while [ $i -lt 10240 ]; do printf "%01023d\\n" $i; i=$((i+1)); done';
    const r = await home.run(['vm', 'run', '--rm', '--', 'sh', '-c', script]);
    expect(r.code).toBe(0);
    expect(r.stdout.length).toBe(10 * 1024 * 1024);
    let expected = '';
    for (let i = 0; i < 10240; i++) expected += `${String(i).padStart(1023, '0')}\n`;
    const sha = (b: Buffer | string) => createHash('sha256').update(b).digest('hex');
    expect(sha(r.stdout)).toBe(sha(expected));
  });

  it('pipes stdin through and honours env and cwd', async () => {
    const input = await home.run(
      ['vm', 'run', '--rm', '--', 'sh', '-c', 'tr a-z A-Z; echo "$GREETING from $(pwd)"'],
      {
        input: 'piped text\n',
      },
    );
    expect(input.code).toBe(0);
    expect(input.out).toBe('PIPED TEXT\n from /root\n');
    const env = await home.run([
      'vm',
      'run',
      '--rm',
      '-e',
      'GREETING=hi',
      '-w',
      '/tmp',
      '--',
      'sh',
      '-c',
      'echo "$GREETING from $(pwd)"',
    ]);
    expect(env.code).toBe(0);
    expect(env.out).toBe('hi from /tmp\n');
  });

  it('reports a command killed by a signal as that signal (128+N)', async () => {
    const r = await home.run(['vm', 'run', '--rm', '--', 'sh', '-c', 'kill -KILL $$']);
    expect(r.code).toBe(128 + 9);
  });

  it('gives a working terminal in pty mode', async () => {
    const r = await home.run(['vm', 'run', '--rm', '-t', '--', 'sh', '-c', 'tty; stty size']);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/^\/dev\/pts\/\d+\r?\n\d+ \d+\r?\n$/);
  });

  it('exits 127 with a clear message for a command the guest does not have', async () => {
    const r = await home.run(['vm', 'run', '--rm', '--', 'no-such-command']);
    expect(r.code).toBe(127);
    expect(r.stderr).toContain('cannot run no-such-command in the guest');
    const list = await home.ok(['vm', 'list', '--json']);
    expect(JSON.parse(list.out)).toEqual([]);
  });
});

describe('banger vm run without a command', () => {
  it('opens a login shell in the guest and keeps the VM, saying how to stop it', async () => {
    const r = await home.run(['vm', 'run', '--name', 'bare'], {
      input: 'echo "shell in $(hostname)"\nexit 5\n',
    });
    expect(r.code).toBe(5);
    expect(r.out).toBe('shell in bare\n');
    expect(r.stderr).toContain('VM bare is still running; stop it with `banger vm stop bare`');
    expect(JSON.parse((await home.ok(['vm', 'show', 'bare', '--json'])).out)).toMatchObject({
      state: 'running',
    });
    await home.ok(['vm', 'delete', 'bare']);
  });

  it('--detach starts a VM and returns; --detach refuses a command or --rm', async () => {
    const r = await home.ok(['vm', 'run', '-d', '--name', 'bg']);
    expect(r.out).toBe('bg\n');
    expect((await home.ok(['vm', 'exec', 'bg', '--', 'hostname'])).out).toBe('bg\n');
    await home.ok(['vm', 'delete', 'bg']);
    expect((await home.run(['vm', 'run', '-d', '--', 'true'])).code).toBe(64);
    expect((await home.run(['vm', 'run', '-d', '--rm'])).code).toBe(64);
  });
});
