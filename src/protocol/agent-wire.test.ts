import { crc32 } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import {
  AGENT_HEADER_SIZE,
  AGENT_MAX_PAYLOAD,
  AGENT_PREAMBLE_SIZE,
  AgentProtocolError,
  FLAG_FIN,
  FrameDecoder,
  FrameType,
  encodeFrame,
  frameTypeName,
  syncPreamble,
} from './agent-wire.js';

const frame = (type: number, channel: number, text: string, flags = 0): Buffer =>
  encodeFrame({ type, channel, flags, payload: Buffer.from(text) });

describe('encodeFrame', () => {
  it('lays the header out little-endian with a CRC over header and payload', () => {
    const bytes = frame(FrameType.stdout, 0x01020304, 'hi', FLAG_FIN);
    expect(bytes.subarray(0, 16).toString('hex')).toBe(
      'ba4e4752' + '21' + '01' + '0000' + '04030201' + '02000000',
    );
    const crc = crc32(Buffer.from('hi'), crc32(bytes.subarray(0, 16)));
    expect(bytes.readUInt32LE(16)).toBe(crc);
    expect(bytes.subarray(AGENT_HEADER_SIZE).toString()).toBe('hi');
  });

  it('pins the format with a known vector (docs/agent-protocol.md shows the same bytes)', () => {
    expect(encodeFrame({ type: FrameType.ping, channel: 0 }).toString('hex')).toBe(
      'ba4e47520300000000000000000000009d3759a8',
    );
  });

  it('refuses payloads over 64 KiB and channels that are not u32', () => {
    expect(() =>
      encodeFrame({ type: 1, channel: 1, payload: Buffer.alloc(AGENT_MAX_PAYLOAD + 1) }),
    ).toThrow(AgentProtocolError);
    expect(() => encodeFrame({ type: 1, channel: -1 })).toThrow(AgentProtocolError);
    expect(
      encodeFrame({ type: 1, channel: 1, payload: Buffer.alloc(AGENT_MAX_PAYLOAD) }).length,
    ).toBe(AGENT_HEADER_SIZE + AGENT_MAX_PAYLOAD);
  });

  it('names frame types for messages', () => {
    expect(frameTypeName(FrameType.helloAck)).toBe('helloAck');
    expect(frameTypeName(0x7e)).toBe('0x7e');
  });
});

describe('FrameDecoder', () => {
  it('decodes frames split at every possible byte boundary', () => {
    const stream = Buffer.concat([frame(0x21, 1, 'abc'), frame(0x22, 2, ''), frame(0x13, 3, 'x')]);
    for (let cut = 0; cut <= stream.length; cut++) {
      const decoder = new FrameDecoder();
      const got = [...decoder.push(stream.subarray(0, cut)), ...decoder.push(stream.subarray(cut))];
      expect(got.map((f) => [f.type, f.channel, f.payload.toString()])).toEqual([
        [0x21, 1, 'abc'],
        [0x22, 2, ''],
        [0x13, 3, 'x'],
      ]);
      expect(decoder.skipped).toBe(0);
      expect(decoder.buffered).toBe(0);
    }
  });

  it('decodes a stream fed one byte at a time', () => {
    const stream = Buffer.concat([frame(0x21, 7, 'hello'), frame(0x21, 7, 'world', FLAG_FIN)]);
    const decoder = new FrameDecoder();
    const got = [];
    for (const byte of stream) got.push(...decoder.push(Buffer.of(byte)));
    expect(got.map((f) => [f.payload.toString(), f.flags])).toEqual([
      ['hello', 0],
      ['world', FLAG_FIN],
    ]);
  });

  it('skips garbage before a frame and counts it; zero padding is not counted', () => {
    const decoder = new FrameDecoder();
    const got = decoder.push(
      Buffer.concat([
        Buffer.from('noise\xba\x4e', 'latin1'),
        Buffer.alloc(100),
        frame(0x04, 0, 'pong'),
      ]),
    );
    expect(got.map((f) => f.payload.toString())).toEqual(['pong']);
    expect(decoder.skipped).toBe(Buffer.from('noise\xba\x4e', 'latin1').length);
  });

  it('drops a frame with a bad CRC and finds the next one', () => {
    const bad = frame(0x21, 1, 'corrupt');
    bad.writeUInt8(bad.readUInt8(AGENT_HEADER_SIZE) ^ 0xff, AGENT_HEADER_SIZE);
    const decoder = new FrameDecoder();
    const got = decoder.push(Buffer.concat([bad, frame(0x21, 1, 'good')]));
    expect(got.map((f) => f.payload.toString())).toEqual(['good']);
    expect(decoder.skipped).toBeGreaterThan(0);
  });

  it('rejects headers with reserved bits set or an oversized length without waiting', () => {
    const reserved = frame(0x21, 1, 'r');
    reserved.writeUInt16LE(1, 6);
    const oversized = frame(0x21, 1, 'o');
    oversized.writeUInt32LE(AGENT_MAX_PAYLOAD + 1, 12);
    const decoder = new FrameDecoder();
    const got = decoder.push(Buffer.concat([reserved, oversized, frame(0x21, 1, 'ok')]));
    expect(got.map((f) => f.payload.toString())).toEqual(['ok']);
  });

  it('resynchronises after a stale partial frame thanks to the zero preamble', () => {
    // A previous writer died in the middle of a 60000-byte frame.
    const stale = frame(0x21, 9, 'x'.repeat(60000)).subarray(0, 1000);
    const decoder = new FrameDecoder();
    const got = decoder.push(Buffer.concat([stale, syncPreamble(), frame(0x02, 0, 'ack')]));
    expect(got.map((f) => f.payload.toString())).toEqual(['ack']);
    expect(AGENT_PREAMBLE_SIZE).toBe(AGENT_HEADER_SIZE + AGENT_MAX_PAYLOAD);
  });

  it('does not pull frames out of another frame payload', () => {
    const inner = frame(0x02, 0, 'fake ack');
    const decoder = new FrameDecoder();
    const got = decoder.push(encodeFrame({ type: 0x21, channel: 3, payload: inner }));
    expect(got).toHaveLength(1);
    expect(got[0]!.payload.equals(inner)).toBe(true);
  });

  it('keeps at most one partial frame buffered', () => {
    const decoder = new FrameDecoder();
    const big = frame(0x21, 1, 'y'.repeat(AGENT_MAX_PAYLOAD));
    expect(decoder.push(big.subarray(0, 5000))).toEqual([]);
    expect(decoder.buffered).toBe(5000);
    expect(decoder.push(big.subarray(5000))).toHaveLength(1);
    expect(decoder.buffered).toBe(0);
  });
});
