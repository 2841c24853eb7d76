/**
 * Ctrl-C (or SIGTERM/SIGHUP) during a bench: the first one asks for a clean stop (the caller
 * aborts, kills its children and tears its home down); a second one kills what is left at once
 * and exits 130.
 */
const SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;

export function onInterrupt(handlers: {
  first: (signal: NodeJS.Signals) => void;
  second: () => void;
}): () => void {
  let count = 0;
  const handler = (signal: NodeJS.Signals): void => {
    count++;
    if (count === 1) {
      handlers.first(signal);
      return;
    }
    handlers.second();
    process.exit(130);
  };
  for (const s of SIGNALS) process.on(s, handler);
  return () => {
    for (const s of SIGNALS) process.off(s, handler);
  };
}
