import { describe, expect, it } from 'vitest';
import { parseCpuMhzKhz } from './host-info.js';
import { parseProcStat } from './proc-stat.js';
import { probeInitElf } from './probe-init-elf.js';
import { checkElfVmlinux } from '../kernels/index.js';

describe('parseProcStat', () => {
  it('reads state, process group and start time, even with ") " inside the command name', () => {
    const fields = Array.from({ length: 50 }, (_, i) => String(i + 3));
    fields[0] = 'S'; // field 3
    fields[2] = '4242'; // field 5: pgrp
    fields[19] = '987654'; // field 22: starttime
    expect(parseProcStat(`4242 (qemu) (evil) ${fields.join(' ')}`)).toEqual({
      state: 'S',
      pgrp: 4242,
      startTime: 987654,
    });
  });
  it('refuses garbage', () => {
    expect(parseProcStat('nothing')).toBeUndefined();
    expect(parseProcStat('1 (x) S 1 2')).toBeUndefined();
  });
});

describe('parseCpuMhzKhz', () => {
  it('turns the first "cpu MHz" into kHz, rounded', () => {
    expect(parseCpuMhzKhz('processor\t: 0\ncpu MHz\t\t: 2445.406\ncpu MHz\t\t: 1.0\n')).toBe(
      2445406,
    );
    expect(parseCpuMhzKhz('cpu MHz : 2999.9996\n')).toBe(3000000);
    expect(parseCpuMhzKhz('no such line')).toBeUndefined();
  });
});

describe('probeInitElf', () => {
  it('is a complete x86-64 executable carrying the marker', () => {
    const elf = probeInitElf('MARK');
    expect(checkElfVmlinux(elf, elf.length)).toBeUndefined();
    expect(elf.subarray(-5).toString()).toBe('MARK\n');
    expect(elf.readUInt32LE(64 + 56 + 18)).toBe(5); // write() length
  });
});
