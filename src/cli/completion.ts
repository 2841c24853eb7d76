/**
 * Shell completion. The scripts call `banger __complete WORDS...` (the words typed so far,
 * the last one being completed); the answer comes from the command tree itself plus live VM,
 * image and kernel names from a running daemon (none when it is down: completion never
 * starts a daemon).
 */
import type { Command, Option } from 'commander';
import { connectUnix, startCall } from '../ipc/index.js';
import type { Layout } from '../config/index.js';

export const COMPLETION_SCRIPTS: Record<'bash' | 'zsh' | 'fish', string> = {
  bash: `# banger bash completion: source this, or save it to /etc/bash_completion.d/banger
_banger() {
  local IFS=$'\\n'
  COMPREPLY=( $(banger __complete "\${COMP_WORDS[@]:1:COMP_CWORD}" 2>/dev/null) )
}
complete -o default -F _banger banger
`,
  zsh: `#compdef banger
# banger zsh completion: save as _banger in a directory on $fpath
_banger() {
  local -a candidates
  candidates=("\${(@f)$(banger __complete "\${(@)words[2,CURRENT]}" 2>/dev/null)}")
  compadd -a candidates
}
compdef _banger banger
`,
  fish: `# banger fish completion: save to ~/.config/fish/completions/banger.fish
complete -c banger -f -a '(banger __complete (commandline -opc)[2..-1] (commandline -ct) 2>/dev/null)'
`,
};

type Resource = 'vm' | 'image' | 'kernel';

const RESOURCE_METHOD: Record<Resource, string> = {
  vm: 'vm.list',
  image: 'image.list',
  kernel: 'kernel.list',
};

async function liveNames(layout: Layout, resource: Resource): Promise<string[]> {
  try {
    const socket = await connectUnix(layout.daemonSocket);
    const items = await startCall<{ name: string }[]>(socket, {
      method: RESOURCE_METHOD[resource],
      params: {},
    }).result;
    return items.map((i) => i.name);
  } catch {
    return [];
  }
}

function resourceForArgument(cmd: Command, argName: string): Resource | undefined {
  if (argName === 'vm' || argName === 'vm...') return 'vm';
  if (argName === 'name' && cmd.parent?.name() === 'image' && cmd.name() !== 'build')
    return 'image';
  if (
    argName === 'name' &&
    cmd.parent?.name() === 'kernel' &&
    !['pull', 'import'].includes(cmd.name())
  )
    return 'kernel';
  return undefined;
}

function resourceForOption(option: Option | undefined): Resource | undefined {
  if (option?.long === '--image') return 'image';
  if (option?.long === '--kernel') return 'kernel';
  return undefined;
}

/** Candidates for the last word of `words`, one per line, filtered by its prefix. */
export async function complete(
  program: Command,
  layout: Layout,
  words: string[],
): Promise<string[]> {
  const current = words.at(-1) ?? '';
  const before = words.slice(0, -1);
  let cmd = program;
  let operands = 0;
  for (let i = 0; i < before.length; i++) {
    const word = before[i] ?? '';
    if (word === '--') return [];
    const sub = cmd.commands.find((c) => c.name() === word || c.aliases().includes(word));
    if (sub && operands === 0) {
      cmd = sub;
      continue;
    }
    if (word.startsWith('-')) {
      const option = cmd.options.find((o) => o.long === word || o.short === word);
      if (option && (option.required || option.optional)) i++;
      continue;
    }
    operands++;
  }
  const previous = before.at(-1);
  const pendingOption = cmd.options.find(
    (o) => (o.long === previous || o.short === previous) && (o.required || o.optional),
  );
  let candidates: string[];
  if (pendingOption) {
    const resource = resourceForOption(pendingOption);
    candidates = resource ? await liveNames(layout, resource) : [];
  } else if (current.startsWith('-')) {
    candidates = cmd.options.flatMap((o) =>
      [o.long, o.short].filter((f): f is string => f !== undefined),
    );
    candidates.push('--help');
  } else if (cmd.commands.length > 0 && operands === 0) {
    candidates = cmd.commands
      .filter((c) => !c.name().startsWith('__'))
      .flatMap((c) => [c.name(), ...c.aliases()]);
  } else {
    const args = cmd.registeredArguments;
    const arg = args[Math.min(operands, args.length - 1)];
    const resource = arg
      ? resourceForArgument(cmd, arg.name() + (arg.variadic ? '...' : ''))
      : undefined;
    candidates = resource ? await liveNames(layout, resource) : [];
  }
  return [...new Set(candidates)].filter((c) => c.startsWith(current)).sort();
}
