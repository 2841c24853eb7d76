/**
 * `banger ssh-config [--install|--uninstall]`: writes banger's own ssh_config (a `Host *.vm`
 * block whose ProxyCommand goes through banger) and prints its path. `--install` adds a
 * marked Include block at the top of ~/.ssh/config so `ssh NAME.vm` works from any terminal;
 * `--uninstall` removes exactly that block. Without those flags ~/.ssh is never touched.
 */
import { constants as fsc, promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Command } from 'commander';
import { BangerError, ensurePrivateDir, writeFileAtomic } from '../../base/index.js';
import type { CliContext } from '../context.js';
import { sshConfigText, withIncludeBlock, withoutIncludeBlock } from '../ssh-command.js';
import { thisCli } from './vm-ssh.js';

export function registerSshConfig(program: Command, ctx: CliContext): void {
  program
    .command('ssh-config')
    .summary('write banger`s ssh_config for `ssh NAME.vm` and print its path')
    .option('--install', 'also Include it from ~/.ssh/config (a marked block at the top)')
    .option('--uninstall', 'remove banger`s Include block from ~/.ssh/config')
    .addHelpText(
      'after',
      '\nExamples:\n  banger ssh-config --install && ssh dev.vm\n  banger ssh-config --uninstall\n',
    )
    .action(async (flags: { install?: boolean; uninstall?: boolean }) => {
      if (flags.install && flags.uninstall) {
        throw new BangerError('bad_request', '--install and --uninstall exclude each other');
      }
      const { layout } = ctx;
      const userConfig = path.join(process.env.HOME ?? os.homedir(), '.ssh', 'config');
      if (flags.uninstall) {
        const changed = await editUserConfig(
          userConfig,
          (text) => withoutIncludeBlock(text),
          false,
        );
        ctx.stdout.write(
          changed
            ? `removed banger's Include block from ${userConfig}\n`
            : `${userConfig} has no banger block\n`,
        );
        return;
      }
      await ensurePrivateDir(layout.sshDir);
      await writeFileAtomic(
        layout.sshConfigFile,
        sshConfigText({
          files: { identityFile: layout.sshKeyFile, knownHostsFile: layout.sshKnownHostsFile },
          cli: thisCli(),
        }),
        0o600,
      );
      ctx.stdout.write(`${layout.sshConfigFile}\n`);
      if (flags.install) {
        const changed = await editUserConfig(
          userConfig,
          (text) => withIncludeBlock(text, layout.sshConfigFile),
          true,
        );
        ctx.stderr.write(
          changed
            ? `added banger's Include block at the top of ${userConfig}: try \`ssh NAME.vm\`\n`
            : `${userConfig} already includes it\n`,
        );
      }
    });
}

/**
 * Applies `edit` to ~/.ssh/config (following a symlink to a dotfiles repo, keeping the file's
 * mode). A missing file is created (0600, in a 0700 ~/.ssh) only when `create`. True when
 * the text changed.
 */
async function editUserConfig(
  file: string,
  edit: (text: string) => string,
  create: boolean,
): Promise<boolean> {
  let target = file;
  let text = '';
  let mode = 0o600;
  try {
    target = await fs.realpath(file);
    const handle = await fs.open(target, fsc.O_RDONLY);
    try {
      text = await handle.readFile('utf8');
      mode = (await handle.stat()).mode & 0o777;
    } finally {
      await handle.close();
    }
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    if (!create) return false;
    await fs.mkdir(path.dirname(file), { recursive: true, mode: 0o700 });
    target = file;
  }
  const next = edit(text);
  if (next === text) return false;
  await writeFileAtomic(target, next, mode);
  return true;
}
