import { describe, expect, it } from 'vitest';
import { parseConfig } from './config.js';
import { DEFAULT_NETWORK_CONFIG } from './network-config.js';

describe('[network] config', () => {
  it('defaults to isolated mode and reads every key', () => {
    expect(parseConfig('').network).toEqual(DEFAULT_NETWORK_CONFIG);
    const config = parseConfig(
      '[network]\nmode = "bridged"\nsubnet = "10.9.0.0/24"\nloopback_range = "127.99.0.0/16"\n' +
        'bridge = "bgbr1"\ndns_listen = "127.0.0.1:5353"\nidle_teardown_seconds = 0\n',
    );
    expect(config.network).toEqual({
      mode: 'bridged',
      subnet: '10.9.0.0/24',
      loopbackRange: '127.99.0.0/16',
      bridge: 'bgbr1',
      dnsListen: { address: '127.0.0.1', port: 5353 },
      idleTeardownSeconds: 0,
    });
  });

  it.each([
    ['[network]\nmode = "host"\n', 'network.mode must be "isolated" or "bridged"'],
    ['[network]\nsubnet = "10.9.0.0"\n', 'network.subnet must be an IPv4 network'],
    ['[network]\nsubnet = "10.9.0.300/24"\n', 'network.subnet must be an IPv4 network'],
    ['[network]\nbridge = "eth0"\n', 'network.bridge must be "bg"'],
    ['[network]\nbridge = "bg-this-is-too-long"\n', 'network.bridge must be "bg"'],
    ['[network]\ndns_listen = "localhost:53"\n', 'network.dns_listen must be IPV4:PORT'],
    ['[network]\ndns_listen = "127.0.0.1:70000"\n', 'network.dns_listen must be IPV4:PORT'],
    ['[network]\nidle_teardown_seconds = -1\n', 'network.idle_teardown_seconds must be an integer'],
    ['[network]\nidle_teardown_seconds = 3601\n', 'from 0 to 3600 (got 3601)'],
    ['[network]\nidle_teardown_seconds = "30"\n', 'from 0 to 3600 (got "30")'],
    ['[network]\nnat = true\n', 'network.nat is not a known key'],
  ])('refuses %j', (text, message) => {
    expect(() => parseConfig(text)).toThrow(message);
  });
});
