import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import {
  bootableBackends,
  configKernelVersion,
  firecrackerKernelProblems,
  parseKernelConfig,
} from './kernel-config.js';
import { parseDependsOutput, parseShowOutput } from './debian-packages.js';
import { detectKernelVersion } from './kernel-version.js';

const DEBIAN_CLOUD = `#
# Automatically generated file; DO NOT EDIT.
# Linux/x86 6.1.192 Kernel Configuration
#
CONFIG_ACPI=y
CONFIG_VIRTIO=m
CONFIG_VIRTIO_MMIO=m
# CONFIG_VIRTIO_MMIO_CMDLINE_DEVICES is not set
CONFIG_VIRTIO_BLK=m
CONFIG_EXT4_FS=y
CONFIG_VSOCKETS=m
CONFIG_VIRTIO_VSOCKETS=m
`;
const FIRECRACKER = DEBIAN_CLOUD.replace(/=m/g, '=y');

describe('bootableBackends', () => {
  it('gives the Debian cloud kernel (virtio as modules) to qemu only', () => {
    expect(bootableBackends(parseKernelConfig(DEBIAN_CLOUD))).toEqual(['qemu']);
  });
  it('adds firecracker when virtio is built in and ACPI finds the devices', () => {
    expect(bootableBackends(parseKernelConfig(FIRECRACKER))).toEqual(['qemu', 'firecracker']);
  });
  it('accepts command-line virtio-mmio devices instead of ACPI', () => {
    const cfg = FIRECRACKER.replace('CONFIG_ACPI=y', '# CONFIG_ACPI is not set').replace(
      '# CONFIG_VIRTIO_MMIO_CMDLINE_DEVICES is not set',
      'CONFIG_VIRTIO_MMIO_CMDLINE_DEVICES=y',
    );
    expect(bootableBackends(parseKernelConfig(cfg))).toEqual(['qemu', 'firecracker']);
    expect(
      bootableBackends(parseKernelConfig(cfg.replace('CONFIG_VIRTIO_MMIO_CMDLINE_DEVICES=y', ''))),
    ).toEqual(['qemu']);
  });
  it('says why firecracker cannot boot a kernel, before anyone tries', () => {
    expect(firecrackerKernelProblems(parseKernelConfig(DEBIAN_CLOUD))).toEqual([
      'CONFIG_VIRTIO is a module (must be built in: y)',
      'CONFIG_VIRTIO_MMIO is a module (must be built in: y)',
      'CONFIG_VIRTIO_BLK is a module (must be built in: y)',
      'CONFIG_VSOCKETS is a module (must be built in: y)',
      'CONFIG_VIRTIO_VSOCKETS is a module (must be built in: y)',
    ]);
    expect(
      firecrackerKernelProblems(
        parseKernelConfig(FIRECRACKER.replace('CONFIG_VIRTIO_VSOCKETS=y', '')),
      ),
    ).toEqual(['CONFIG_VIRTIO_VSOCKETS is not set (must be built in: y)']);
  });
  it('gives the vendored Firecracker guest config to both backends', () => {
    const text = readFileSync(
      path.resolve(
        import.meta.dirname,
        '../../vendor/firecracker/microvm-kernel-x86_64-6.1.config',
      ),
      'utf8',
    );
    expect(firecrackerKernelProblems(parseKernelConfig(text))).toEqual([]);
    expect(bootableBackends(parseKernelConfig(text))).toEqual(['qemu', 'firecracker']);
  });
  it('promises only qemu without a config', () => {
    expect(bootableBackends(undefined)).toEqual(['qemu']);
  });
  it('reads the version from the config header', () => {
    expect(configKernelVersion(DEBIAN_CLOUD)).toBe('6.1.192');
    expect(parseKernelConfig(DEBIAN_CLOUD).get('CONFIG_VIRTIO_MMIO_CMDLINE_DEVICES')).toBe('n');
  });
});

describe('apt output parsing', () => {
  it('finds the real kernel package behind the metapackage', () => {
    const out = 'linux-image-cloud-amd64\n  Depends: linux-image-6.1.0-56-cloud-amd64\n';
    expect(parseDependsOutput(out, 'linux-image-cloud-amd64', 'linux-image-')).toBe(
      'linux-image-6.1.0-56-cloud-amd64',
    );
    expect(parseDependsOutput('x\n  Depends: $(evil)\n', 'x', '')).toBeUndefined();
  });
  it('reads Package, Version and SHA256 of each stanza', () => {
    const out = `Package: linux-image-6.1.0-56-cloud-amd64
Version: 6.1.192-2
SHA256: ${'e'.repeat(64)}

Package: busybox-static
Version: 1:1.35.0-4+deb12u1+b1
SHA256: nothex
`;
    expect(parseShowOutput(out)).toEqual([
      { name: 'linux-image-6.1.0-56-cloud-amd64', version: '6.1.192-2', sha256: 'e'.repeat(64) },
      { name: 'busybox-static', version: '1:1.35.0-4+deb12u1+b1', sha256: undefined },
    ]);
  });
});

describe('detectKernelVersion', () => {
  it('reads the release from the banner, skipping format strings', () => {
    const img = Buffer.from(
      '\0Linux version %s (%s)\0junk\0Linux version 6.1.0-56-cloud-amd64 (debian-kernel@x) #1\0',
    );
    expect(detectKernelVersion(img)).toBe('6.1.0-56-cloud-amd64');
    expect(detectKernelVersion(Buffer.from('nothing here'))).toBeUndefined();
  });
});
