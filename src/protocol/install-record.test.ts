import { describe, expect, it } from 'vitest';
import {
  checkRecordLocation,
  formatInstallRecord,
  parseInstallRecord,
  type InstallRecord,
} from './install-record.js';

const record: InstallRecord = {
  owner: 'alice',
  uid: 1000,
  gid: 1000,
  version: '0.1.0',
  installedAt: '2025-03-01T10:00:00Z',
  root: '/',
};

describe('install record', () => {
  it('reads back what it writes', () => {
    expect(parseInstallRecord(formatInstallRecord(record))).toEqual(record);
    const prefixed = { ...record, root: '/tmp/bgsys-1' };
    expect(parseInstallRecord(formatInstallRecord(prefixed))).toEqual(prefixed);
  });

  it('refuses a root owner, a bad name and unknown or repeated keys', () => {
    const text = formatInstallRecord(record);
    expect(() => parseInstallRecord(text.replace('uid = 1000', 'uid = 0'))).toThrow(
      /uid 0 must be an unprivileged id/,
    );
    expect(() => parseInstallRecord(text.replace('"alice"', '"al;ice"'))).toThrow(/owner/);
    expect(() => parseInstallRecord(`${text}shell = "sh"\n`)).toThrow(/not one of the known/);
    expect(() => parseInstallRecord(`${text}uid = 1001\n`)).toThrow(/uid is given twice/);
    expect(() => parseInstallRecord(text.replace('uid = 1000\n', ''))).toThrow(/uid is missing/);
    expect(() => parseInstallRecord(text.replace('uid = 1000', 'uid = "1000"'))).toThrow(
      /uid must be an integer/,
    );
    expect(() => parseInstallRecord(text.replace('root = "/"', 'root = "/tmp/../etc"'))).toThrow(
      /root/,
    );
  });

  it('is trusted only where its root says it lies', () => {
    expect(checkRecordLocation(record, '/etc/banger/install.toml')).toBe(record);
    expect(() => checkRecordLocation(record, '/tmp/x/etc/banger/install.toml')).toThrow(
      /does not match/,
    );
  });
});
