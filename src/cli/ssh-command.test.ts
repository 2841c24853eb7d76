import { describe, expect, it } from 'vitest';
import {
  INCLUDE_BEGIN,
  INCLUDE_END,
  hasIncludeBlock,
  proxyCommand,
  shellQuote,
  sshArgv,
  sshConfigText,
  withIncludeBlock,
  withoutIncludeBlock,
} from './ssh-command.js';

const files = { identityFile: '/s/ssh/id_ed25519', knownHostsFile: '/s/ssh/known_hosts' };
const cli = { node: '/usr/bin/node', script: "/opt/it's banger/main.js" };

describe('ssh command line', () => {
  it('quotes every ProxyCommand word for the shell ssh runs it with', () => {
    expect(shellQuote("a'b")).toBe(`'a'\\''b'`);
    expect(proxyCommand(cli, 'dev')).toBe(
      `'/usr/bin/node' '/opt/it'\\''s banger/main.js' __ssh-proxy dev`,
    );
  });

  it('uses banger`s key and known_hosts, strict checking, and passes the remote command after --', () => {
    const argv = sshArgv({
      vm: 'dev',
      hostKeyAlias: 'dev.vm',
      files,
      cli,
      remote: ['hostname', '-f'],
    });
    expect(argv).toContain('UserKnownHostsFile=/s/ssh/known_hosts');
    expect(argv).toContain('StrictHostKeyChecking=yes');
    expect(argv).toContain('IdentityFile=/s/ssh/id_ed25519');
    expect(argv).toContain('IdentitiesOnly=yes');
    expect(argv).toContain('HostKeyAlias=dev.vm');
    expect(argv.slice(-4)).toEqual(['dev.vm', '--', 'hostname', '-f']);
    expect(sshArgv({ vm: 'dev', hostKeyAlias: 'dev.vm', files, cli, remote: [] }).at(-1)).toBe(
      'dev.vm',
    );
  });

  it('writes a Host *.vm block that proxies %n', () => {
    const text = sshConfigText({ files: { ...files, knownHostsFile: '/with space/kh' }, cli });
    expect(text).toContain('Host *.vm\n');
    expect(text).toContain(`__ssh-proxy %n\n`);
    expect(text).toContain('  UserKnownHostsFile "/with space/kh"\n');
    expect(() => sshConfigText({ files: { ...files, identityFile: '/a"b' }, cli })).toThrow(
      /cannot be written/,
    );
  });
});

describe('~/.ssh/config Include block', () => {
  const user = 'Host *\n  ServerAliveInterval 30\n';

  it('goes at the very top, once, however often it is installed', () => {
    const once = withIncludeBlock(user, '/s/ssh/ssh_config');
    expect(once.startsWith(`${INCLUDE_BEGIN}\nInclude /s/ssh/ssh_config\n${INCLUDE_END}\n`)).toBe(
      true,
    );
    expect(once.endsWith(user)).toBe(true);
    expect(withIncludeBlock(once, '/s/ssh/ssh_config')).toBe(once);
    expect(hasIncludeBlock(once)).toBe(true);
  });

  it('is replaced in place when the path changes', () => {
    const once = withIncludeBlock(user, '/old/ssh_config');
    const moved = withIncludeBlock(once, '/new/ssh_config');
    expect(moved).toContain('Include /new/ssh_config\n');
    expect(moved).not.toContain('/old/');
  });

  it('uninstall removes exactly the block, restoring the file byte for byte', () => {
    for (const original of [user, '', 'Host a\n', 'no trailing newline']) {
      expect(withoutIncludeBlock(withIncludeBlock(original, '/s/ssh_config'))).toBe(original);
    }
    expect(withoutIncludeBlock(user)).toBe(user);
  });

  it('refuses a file whose closing marker was deleted', () => {
    expect(() => withoutIncludeBlock(`${INCLUDE_BEGIN}\nInclude x\n`)).toThrow(/closing/);
  });
});
