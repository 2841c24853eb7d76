import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { CONFIG_KEYS, DEFAULT_CONFIG, parseConfig, parseSize } from './config.js';
import { packageRoot } from './layout.js';

describe('parseConfig', () => {
  it('gives defaults for an empty file and reads every documented key', () => {
    expect(parseConfig('')).toEqual(DEFAULT_CONFIG);
    const config = parseConfig(
      'log_level = "debug"\ndefault_image = "my-img"\nvmm = "qemu"\nboot_timeout_seconds = 30\n' +
        '[vm_defaults]\nvcpu = 2\nmemory = 1024\ndisk_size = "8G"\n',
    );
    expect(config).toEqual({
      logLevel: 'debug',
      defaultImage: 'my-img',
      vmm: 'qemu',
      bootTimeoutSeconds: 30,
      vmDefaults: { vcpu: 2, memoryMib: 1024, diskSizeBytes: 8 * 1024 ** 3 },
      network: DEFAULT_CONFIG.network,
    });
  });

  it.each([
    ['colour = "red"\n', 'colour is not a known key'],
    ['[vm_defaults]\ncpus = 2\n', 'vm_defaults.cpus is not a known key'],
    ['[vm_defaults]\nvcpu = 0\n', 'vm_defaults.vcpu must be an integer from 1 to 32'],
    ['[vm_defaults]\nmemory = "lots"\n', 'vm_defaults.memory must be an integer number of MiB'],
    ['[vm_defaults]\ndisk_size = "4X"\n', 'is not a size'],
    ['log_level = "loud"\n', 'log_level must be one of debug, info, warn, error'],
    ['vmm = "xen"\n', 'vmm must be "auto", "qemu" or "firecracker"'],
    ['default_image = "../etc"\n', 'default_image must be an image name'],
    ['vm_defaults = [oops\n', 'does not parse as TOML'],
  ])('refuses %j naming the key and the rule', (text, message) => {
    expect(() => parseConfig(text, '/x/config.toml')).toThrow(message);
  });

  it('documents every key in docs/config.md', () => {
    const doc = readFileSync(path.join(packageRoot(), 'docs', 'config.md'), 'utf8');
    for (const { key } of CONFIG_KEYS) expect(doc).toContain(`\`${key}\``);
  });
});

describe('parseSize', () => {
  it('reads binary units and bounds the result', () => {
    expect(parseSize('512M')).toBe(512 * 1024 ** 2);
    expect(parseSize('4G')).toBe(4 * 1024 ** 3);
    expect(() => parseSize('1K')).toThrow('must be between 64M and 2T');
  });
});
