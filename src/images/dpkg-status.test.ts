import { describe, expect, it } from 'vitest';
import { parseDpkgStatus } from './dpkg-status.js';

const STATUS = `Package: git
Status: install ok installed
Priority: optional
Architecture: amd64
Version: 1:2.39.5-0+deb12u2
Description: fast, scalable, distributed revision control system
 Git is popular.
 .
 Version: 9.9 (a continuation line that looks like a field)

Package: libc6
Status: install ok installed
Architecture: amd64
Multi-Arch: same
Version: 2.36-9+deb12u10

Package: removed-pkg
Status: deinstall ok config-files
Version: 1.0

Package: openssh-server
Status: hold ok installed
Version: 1:9.2p1-2+deb12u5
`;

describe('parseDpkgStatus', () => {
  it('lists installed packages with versions, sorted, skipping removed ones and continuation lines', () => {
    expect(parseDpkgStatus(STATUS)).toEqual([
      { name: 'git', version: '1:2.39.5-0+deb12u2' },
      { name: 'libc6', version: '2.36-9+deb12u10' },
      { name: 'openssh-server', version: '1:9.2p1-2+deb12u5' },
    ]);
  });

  it('refuses a hostile package name rather than recording it', () => {
    expect(() =>
      parseDpkgStatus('Package: ../x\nStatus: install ok installed\nVersion: 1\n'),
    ).toThrow(/invalid name/);
  });

  it('returns nothing for an empty file', () => {
    expect(parseDpkgStatus('')).toEqual([]);
  });
});
