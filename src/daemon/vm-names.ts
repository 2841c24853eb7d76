/** Readable, hostname-safe names for VMs created without --name ("brave-otter"). */
import { randomInt } from 'node:crypto';

const ADJECTIVES =
  'amber bold brave brisk calm clever cosy crisp eager fair fast fond gentle glad grand happy hardy keen kind lively lucky merry mild neat nimble noble proud quick quiet rapid ready shiny sharp smart snug solid spry steady sunny swift tidy true vivid warm wise witty young zesty'.split(
    ' ',
  );
const NOUNS =
  'badger bear beaver bison crane crow deer dingo eagle egret falcon ferret finch fox gecko heron ibis jay koala lark lemur lynx marten mole moose newt otter owl panda puffin quail raven robin seal shrew sloth stoat swan tapir tern toad trout vole walrus wolf wombat wren yak'.split(
    ' ',
  );

function pick(list: readonly string[]): string {
  return list[randomInt(list.length)] ?? 'vm';
}

/** A fresh name not in `taken`; adds a number when the pair space is crowded. */
export function generateVmName(taken: (name: string) => boolean): string {
  for (let attempt = 0; attempt < 50; attempt++) {
    const name = `${pick(ADJECTIVES)}-${pick(NOUNS)}`;
    if (!taken(name)) return name;
  }
  for (;;) {
    const name = `${pick(ADJECTIVES)}-${pick(NOUNS)}-${String(randomInt(1000, 10000))}`;
    if (!taken(name)) return name;
  }
}
