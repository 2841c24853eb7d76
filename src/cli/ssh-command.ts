/**
 * What banger hands the system's OpenSSH client: the ProxyCommand that carries the
 * connection through the agent channel (`banger __ssh-proxy NAME`), the options that make
 * ssh use banger's key and known_hosts (and nothing of the user's for *.vm hosts), and the
 * ssh_config block for `ssh NAME.vm`. Pure text and argv builders.
 */
import { BangerError } from '../base/index.js';

export interface SshFiles {
  identityFile: string;
  knownHostsFile: string;
}

/** How to run this banger CLI again (node + its entry script), for ProxyCommand. */
export interface CliInvocation {
  node: string;
  script: string;
}

/** The ProxyCommand line: ssh runs it through /bin/sh, so every word is single-quoted. */
export function proxyCommand(cli: CliInvocation, host: string): string {
  return [shellQuote(cli.node), shellQuote(cli.script), '__ssh-proxy', host].join(' ');
}

/** `-o` options shared by `vm ssh` and the ssh_config block. */
function sshOptions(files: SshFiles): [string, string][] {
  return [
    ['User', 'root'],
    ['UserKnownHostsFile', files.knownHostsFile],
    ['GlobalKnownHostsFile', '/dev/null'],
    // The daemon pins the key on first use before the proxy passes a byte: ssh only checks.
    ['StrictHostKeyChecking', 'yes'],
    ['HostKeyAlgorithms', 'ssh-ed25519'],
    // The bytes never leave the machine (agent channel), and the default post-quantum kex
    // (sntrup761) costs ~0.7 s of emulated guest CPU under TCG: plain X25519 is enough here.
    ['KexAlgorithms', 'curve25519-sha256,curve25519-sha256@libssh.org'],
    ['UpdateHostKeys', 'no'],
    ['CheckHostIP', 'no'],
    ['IdentityFile', files.identityFile],
    ['IdentitiesOnly', 'yes'],
    // banger's key or nothing: a guest without it should fail, not ask for a password.
    ['PreferredAuthentications', 'publickey'],
  ];
}

/** argv (without the program) for `vm ssh NAME [-- CMD]`. */
export function sshArgv(options: {
  vm: string;
  hostKeyAlias: string;
  files: SshFiles;
  cli: CliInvocation;
  remote: readonly string[];
}): string[] {
  const argv: string[] = [];
  for (const [key, value] of [
    ['ProxyCommand', proxyCommand(options.cli, options.vm)],
    ['HostKeyAlias', options.hostKeyAlias],
    ...sshOptions(options.files),
  ]) {
    argv.push('-o', `${key}=${value ?? ''}`);
  }
  argv.push(options.hostKeyAlias);
  if (options.remote.length > 0) argv.push('--', ...options.remote);
  return argv;
}

/** banger's own ssh_config: a `Host *.vm` block (%n is the name as typed: NAME.vm). */
export function sshConfigText(options: { files: SshFiles; cli: CliInvocation }): string {
  const lines = [
    '# Written by banger (`banger ssh-config`); rewritten each time it runs. Do not edit.',
    '# `ssh NAME.vm` reaches VM NAME through banger, without any network route.',
    'Host *.vm',
    `  ProxyCommand ${proxyCommand(options.cli, '%n')}`,
    ...sshOptions(options.files).map(([key, value]) => `  ${key} ${configQuote(value)}`),
    '',
  ];
  return lines.join('\n');
}

export const INCLUDE_BEGIN =
  '# >>> banger ssh-config: managed by `banger ssh-config`, do not edit >>>';
export const INCLUDE_END = '# <<< banger ssh-config <<<';

/**
 * ~/.ssh/config with banger's Include block at the very top (an Include after a Host line
 * would only apply inside that Host), replacing an earlier block in place. Idempotent.
 */
export function withIncludeBlock(config: string, sshConfigFile: string): string {
  const block = `${INCLUDE_BEGIN}\nInclude ${configQuote(sshConfigFile)}\n${INCLUDE_END}\n`;
  const range = blockRange(config);
  if (range) return config.slice(0, range.start) + block + config.slice(range.end);
  return block + config;
}

/** ~/.ssh/config without banger's block (exactly those lines); unchanged when absent. */
export function withoutIncludeBlock(config: string): string {
  const range = blockRange(config);
  return range ? config.slice(0, range.start) + config.slice(range.end) : config;
}

export function hasIncludeBlock(config: string): boolean {
  return blockRange(config) !== undefined;
}

function blockRange(config: string): { start: number; end: number } | undefined {
  const start = config.indexOf(`${INCLUDE_BEGIN}\n`);
  if (start < 0 || (start > 0 && config[start - 1] !== '\n')) return undefined;
  const endMarker = config.indexOf(INCLUDE_END, start);
  if (endMarker < 0) {
    throw new BangerError(
      'precondition_failed',
      `~/.ssh/config has banger's opening marker but not its closing one (${INCLUDE_END})`,
      { hint: 'remove the banger lines from ~/.ssh/config by hand, then run the command again' },
    );
  }
  let end = endMarker + INCLUDE_END.length;
  if (config[end] === '\n') end += 1;
  return { start, end };
}

/** Single quotes for /bin/sh: nothing inside is special. */
export function shellQuote(word: string): string {
  return `'${word.replace(/'/g, `'\\''`)}'`;
}

/** ssh_config arguments: double quotes when needed; a quote or newline cannot be expressed. */
function configQuote(value: string): string {
  if (/["\n\r]/.test(value)) {
    throw new BangerError(
      'bad_request',
      `path ${JSON.stringify(value)} cannot be written into ssh_config`,
    );
  }
  return /[\s#]/.test(value) ? `"${value}"` : value;
}
