/** Milliseconds spent per named step, plus the total. */
export interface StepTimings {
  steps: { step: string; ms: number }[];
  totalMs: number;
}

export interface StepTimer {
  /** Ends the current step (if any) and starts `step`. */
  start(step: string): void;
  finish(): StepTimings;
}

export function createTimer(now: () => number = () => performance.now()): StepTimer {
  const begin = now();
  const steps: { step: string; ms: number }[] = [];
  let current: { step: string; at: number } | undefined;
  const close = (): void => {
    if (current !== undefined)
      steps.push({ step: current.step, ms: Math.round(now() - current.at) });
    current = undefined;
  };
  return {
    start(step) {
      close();
      current = { step, at: now() };
    },
    finish() {
      close();
      return { steps, totalMs: Math.round(now() - begin) };
    },
  };
}
