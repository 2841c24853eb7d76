import { describe, expect, it } from 'vitest';
import { bootableBackends, configKernelVersion, parseKernelConfig } from './kernel-config.js';
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
