import { describe, expect, it } from 'vitest';
import type { VmRecord } from '../store/index.js';
import { clockOnly, identityFor } from './vm-restore.js';

const vm = { id: '0123456789ab', name: 'clone-1' } as VmRecord;
const key = {
  privateKey: '-----BEGIN OPENSSH PRIVATE KEY-----\nx\n',
  publicLine: 'ssh-ed25519 AAAA',
};

describe('identityFor', () => {
  it("takes this VM's name, MAC, address, gateway and resolvers, and fresh randomness", () => {
    const before = BigInt(Date.now()) * 1_000_000n;
    const net = {
      nics: [{ tap: 'bg-0123456789ab', mac: '02:01:23:45:67:89' }],
      kernelArgs: [
        'banger.ip=10.213.0.7/24',
        'banger.gw=10.213.0.1',
        'banger.dns=10.213.0.1,100.64.213.1',
      ],
    };
    const a = identityFor(vm, net, key);
    const b = identityFor(vm, net, key);
    expect(a.hostname).toBe('clone-1');
    expect(a.network).toEqual({
      mac: '02:01:23:45:67:89',
      address: '10.213.0.7/24',
      gateway: '10.213.0.1',
    });
    expect(a.dns).toEqual(['10.213.0.1', '100.64.213.1']);
    expect(a.sshHostKey).toEqual({ privateKey: key.privateKey, publicKey: key.publicLine });
    expect(a.machineId).toMatch(/^[0-9a-f]{32}$/);
    expect(a.machineId).not.toBe(b.machineId);
    expect(a.entropy).toHaveLength(64);
    expect(a.entropy?.equals(b.entropy ?? Buffer.alloc(0))).toBe(false);
    expect(a.timeNs).toBeGreaterThanOrEqual(before);
  });

  it('leaves the network alone for a VM without a NIC', () => {
    const id = identityFor(vm, undefined, key);
    expect(id.network).toBeUndefined();
    expect(id.dns).toBeUndefined();
    expect(id.hostname).toBe('clone-1');
  });

  it('clockOnly asks for the time and nothing else', () => {
    expect(Object.keys(clockOnly())).toEqual(['timeNs']);
  });
});
