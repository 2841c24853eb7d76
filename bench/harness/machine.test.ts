import { describe, expect, it } from 'vitest';
import { machineLine, parseCpuModel } from './machine.js';

describe('parseCpuModel', () => {
  it('reads the first "model name" of /proc/cpuinfo', () => {
    const cpuinfo =
      'processor\t: 0\nvendor_id\t: AuthenticAMD\nmodel name\t: AMD EPYC 7B13\ncpu MHz\t\t: 2445.406\n\n' +
      'processor\t: 1\nmodel name\t: AMD EPYC 7B13\n';
    expect(parseCpuModel(cpuinfo)).toBe('AMD EPYC 7B13');
  });

  it('gives undefined without one', () => {
    expect(parseCpuModel('processor\t: 0\n')).toBeUndefined();
  });
});

describe('machineLine', () => {
  it('names CPU, cores, memory, kernel, QEMU and Node on one line', () => {
    expect(
      machineLine({
        cpuModel: 'AMD EPYC',
        cores: 2,
        memoryGiB: 23.5,
        kernel: 'Linux 6.18.44',
        qemu: '7.2.22',
        node: 'v20.20.2',
        date: '2026-11-29T07:39:22.000Z',
      }),
    ).toBe('AMD EPYC, 2 cores, 23.5 GiB, Linux 6.18.44, QEMU 7.2.22, Node v20.20.2');
  });
});
