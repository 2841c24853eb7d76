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
      catalog: DEFAULT_CONFIG.catalog,
      oci: DEFAULT_CONFIG.oci,
      fileSync: [],
      warm: { auto: false },
    });
  });

  it('reads the warm table and refuses unknown keys or non-booleans in it', () => {
    expect(parseConfig('[warm]\nauto = true\n').warm).toEqual({ auto: true });
    expect(() => parseConfig('[warm]\nauto = "yes"\n')).toThrow(/warm.auto must be true or false/);
    expect(() => parseConfig('[warm]\npool = 2\n')).toThrow(/warm.pool is not a known key/);
    expect(() => parseConfig('warm = 1\n')).toThrow(/warm must be a table/);
  });

  it('reads the catalog and oci tables', () => {
    const config = parseConfig(
      '[catalog]\nimages_url = "http://127.0.0.1:8080/images.json"\nkernels_url = ""\n' +
        '[oci]\ninsecure_registries = ["registry.lan:5000"]\nmax_entries = 1000\n' +
        'max_unpacked_size = "2G"\ndevice_nodes = "none"\n',
    );
    expect(config.catalog).toEqual({
      imagesUrl: 'http://127.0.0.1:8080/images.json',
      kernelsUrl: '',
    });
    expect(config.oci).toEqual({
      insecureRegistries: ['registry.lan:5000'],
      maxEntries: 1000,
      maxUnpackedBytes: 2 * 1024 ** 3,
      deviceNodes: 'none',
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
    ['[catalog]\nimages_url = "ftp://x/y.json"\n', 'catalog.images_url must be an http(s) URL'],
    ['[catalog]\nmirror = "x"\n', 'catalog.mirror is not a known key'],
    ['catalog = 3\n', 'catalog must be a table'],
    ['[oci]\ninsecure_registries = "x"\n', 'oci.insecure_registries must be a list'],
    ['[oci]\ninsecure_registries = ["a b"]\n', 'oci.insecure_registries must be a list'],
    ['[oci]\nmax_entries = 5\n', 'oci.max_entries must be an integer from 100'],
    ['[oci]\nmax_unpacked_size = "lots"\n', 'is not a size'],
    ['[oci]\ndevice_nodes = "some"\n', 'oci.device_nodes must be "safe", "none" or "all"'],
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
