import { describe, expect, it } from 'vitest';
import {
  decodeError,
  decodeExec,
  decodeExecFailed,
  decodeExecStarted,
  decodeExit,
  decodeHello,
  decodeHelloAck,
  decodeRecords,
  decodeResize,
  decodeShutdown,
  decodeSignal,
  decodeWindow,
  encodeError,
  encodeExec,
  encodeExecFailed,
  encodeExecStarted,
  encodeExit,
  encodeHello,
  encodeHelloAck,
  encodeRecords,
  encodeResize,
  encodeShutdown,
  encodeSignal,
  encodeWindow,
} from './agent-payloads.js';
import { linuxErrnoName, linuxSignalName, linuxSignalNumber } from './agent-linux.js';
import { AgentProtocolError } from './agent-wire.js';

describe('agent payloads', () => {
  it('round-trips HELLO and HELLO_ACK', () => {
    const nonce = Buffer.alloc(16, 7);
    expect(decodeHello(encodeHello({ versionMin: 1, versionMax: 3, nonce }))).toEqual({
      versionMin: 1,
      versionMax: 3,
      nonce,
    });
    const ack = {
      protocolVersion: 1,
      nonce,
      agentVersion: '0.1.0',
      bootId: 'b-1',
      kernel: '6.1.0',
      hostname: 'box',
      capabilities: ['exec', 'pty'],
    };
    expect(decodeHelloAck(encodeHelloAck(ack))).toEqual(ack);
    expect(() => encodeHello({ versionMin: 1, versionMax: 1, nonce: Buffer.alloc(3) })).toThrow(
      AgentProtocolError,
    );
  });

  it('round-trips EXEC with argv, env, cwd and tty', () => {
    const exec = {
      argv: ['sh', 'script with spaces', 'ünïcode'],
      env: { FOO: 'a=b', EMPTY: '' },
      cwd: '/root/w',
      tty: { rows: 40, cols: 120, term: 'xterm' },
    };
    expect(decodeExec(encodeExec(exec))).toEqual(exec);
    expect(decodeExec(encodeExec({ argv: ['true'], env: {} }))).toEqual({
      argv: ['true'],
      env: {},
    });
  });

  it('lays EXEC out as a fixed head and tagged NUL-terminated records', () => {
    const bytes = encodeExec({ argv: ['ls', '-l'], env: { A: '1' }, cwd: '/tmp' });
    expect(bytes.subarray(0, 8).toString('hex')).toBe('0000000000000000');
    expect(bytes.subarray(8).toString('latin1')).toBe('Als\0A-l\0EA=1\0C/tmp\0');
  });

  it('refuses an EXEC that does not fit in one frame, and values with NUL', () => {
    expect(() => encodeExec({ argv: ['x'.repeat(70000)], env: {} })).toThrow(/must fit/);
    expect(() => encodeRecords([[0x41, 'a\0b']])).toThrow(AgentProtocolError);
  });

  it('rejects records without their NUL terminator', () => {
    expect(() => decodeRecords(Buffer.from('Aabc'))).toThrow(AgentProtocolError);
    expect(decodeRecords(Buffer.alloc(0))).toEqual([]);
  });

  it('round-trips EXEC_STARTED, EXEC_FAILED and EXIT', () => {
    expect(decodeExecStarted(encodeExecStarted(4242))).toEqual({ pid: 4242 });
    const failed = { errno: 2, stage: 4, message: 'command not found: nope' };
    expect(decodeExecFailed(encodeExecFailed(failed))).toEqual(failed);
    expect(decodeExit(encodeExit({ kind: 'exited', code: 7 }))).toEqual({
      kind: 'exited',
      code: 7,
    });
    expect(decodeExit(encodeExit({ kind: 'signaled', signal: 9, coreDumped: true }))).toEqual({
      kind: 'signaled',
      signal: 9,
      coreDumped: true,
    });
  });

  it('rejects short or out-of-range EXIT payloads', () => {
    expect(() => decodeExit(Buffer.alloc(3))).toThrow(AgentProtocolError);
    const bad = encodeExit({ kind: 'exited', code: 0 });
    bad.writeInt32LE(300, 4);
    expect(() => decodeExit(bad)).toThrow(/out of range/);
    bad.writeUInt8(5, 0);
    expect(() => decodeExit(bad)).toThrow(/neither/);
  });

  it('round-trips WINDOW, SIGNAL, RESIZE, SHUTDOWN and ERROR', () => {
    expect(decodeWindow(encodeWindow({ stream: 1, increment: 65536 }))).toEqual({
      stream: 1,
      increment: 65536,
    });
    expect(() => decodeWindow(encodeWindow({ stream: 1, increment: 1 }).fill(9, 0, 1))).toThrow(
      AgentProtocolError,
    );
    expect(decodeSignal(encodeSignal(15))).toBe(15);
    expect(decodeResize(encodeResize({ rows: 50, cols: 200 }))).toEqual({ rows: 50, cols: 200 });
    expect(decodeShutdown(encodeShutdown('reboot'))).toBe('reboot');
    expect(() => decodeShutdown(Buffer.of(3))).toThrow(AgentProtocolError);
    const error = { code: 7, refType: 0x10, message: 'no session' };
    expect(decodeError(encodeError(error))).toEqual(error);
  });

  it('maps Linux signal and errno numbers', () => {
    expect(linuxSignalNumber('SIGTERM')).toBe(15);
    expect(linuxSignalNumber('KILL')).toBe(9);
    expect(linuxSignalNumber('SIGNOPE')).toBeUndefined();
    expect(linuxSignalNumber('toString')).toBeUndefined();
    expect(linuxSignalName(2)).toBe('SIGINT');
    expect(linuxSignalName(40)).toBe('SIG40');
    expect(linuxErrnoName(2)).toBe('ENOENT');
    expect(linuxErrnoName(95)).toBe('errno 95');
  });
});
