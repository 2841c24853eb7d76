/** Parsers for option values, failing with the flag, the value and the rule. */
import { InvalidArgumentError } from 'commander';

export function parseIntOption(flag: string, min: number, max: number) {
  return (value: string): number => {
    if (!/^\d+$/.test(value) || Number(value) < min || Number(value) > max) {
      throw new InvalidArgumentError(
        `${flag} must be an integer from ${String(min)} to ${String(max)}.`,
      );
    }
    return Number(value);
  };
}

export function parseSizeOption(flag: string) {
  return (value: string): number => {
    const match = /^(\d+)([KMGT]?)$/i.exec(value.trim());
    const factors: Record<string, number> = {
      '': 1,
      K: 1024,
      M: 1024 ** 2,
      G: 1024 ** 3,
      T: 1024 ** 4,
    };
    const factor = factors[(match?.[2] ?? '').toUpperCase()];
    if (!match?.[1] || factor === undefined) {
      throw new InvalidArgumentError(`${flag} must be a size such as 512M or 8G.`);
    }
    return Number(match[1]) * factor;
  };
}

/** Collects repeated `-e KEY=VALUE` flags into an object. */
export function collectEnv(
  value: string,
  previous: Record<string, string> = {},
): Record<string, string> {
  const eq = value.indexOf('=');
  const key = eq > 0 ? value.slice(0, eq) : '';
  if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(key)) {
    throw new InvalidArgumentError(
      `-e expects KEY=VALUE with KEY matching [A-Za-z_][A-Za-z0-9_]* (got "${value}").`,
    );
  }
  return { ...previous, [key]: value.slice(eq + 1) };
}

/** Splits the raw argv of a command at `--`: what comes after is the guest command. */
export function splitAtDoubleDash(rawArgs: readonly string[]): {
  before: string[];
  after: string[] | undefined;
} {
  const index = rawArgs.indexOf('--');
  if (index < 0) return { before: [...rawArgs], after: undefined };
  return { before: rawArgs.slice(0, index), after: rawArgs.slice(index + 1) };
}
