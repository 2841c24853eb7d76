import type { Command } from 'commander';
import { BangerError } from '../../base/index.js';
import { complete, COMPLETION_SCRIPTS } from '../completion.js';
import type { CliContext } from '../context.js';

export function registerCompletion(program: Command, ctx: CliContext): void {
  program
    .command('completion')
    .summary('print a shell completion script (bash, zsh, fish)')
    .argument('<shell>', 'bash, zsh or fish')
    .addHelpText(
      'after',
      '\nExamples:\n  source <(banger completion bash)\n  banger completion fish > ~/.config/fish/completions/banger.fish\n',
    )
    .action((shell: string) => {
      if (shell !== 'bash' && shell !== 'zsh' && shell !== 'fish') {
        throw new BangerError('bad_request', `unknown shell "${shell}": use bash, zsh or fish`);
      }
      ctx.stdout.write(COMPLETION_SCRIPTS[shell]);
    });
  program
    .command('__complete', { hidden: true })
    .argument('[words...]')
    .allowUnknownOption()
    .helpOption(false)
    .action(async (words: string[]) => {
      // Words after `--` arrive in guestArgv: they belong to the completed line too.
      const all = ctx.guestArgv ? [...words, '--', ...ctx.guestArgv] : words;
      const candidates = await complete(program, ctx.layout, all.length === 0 ? [''] : all);
      ctx.stdout.write(candidates.map((c) => `${c}\n`).join(''));
    });
}
