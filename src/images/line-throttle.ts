/**
 * Turns a child's stderr chunks into lines and passes on at most one line per interval (the
 * latest), so a chatty tool does not flood the progress stream. Warnings and errors
 * (`W:`/`E:` lines, as apt and mmdebstrap print them) always pass; `flush` passes the last line.
 */
export interface LineThrottle {
  push(chunk: Buffer | string): void;
  flush(): void;
}

export interface LineThrottleOptions {
  intervalMs: number;
  /** Clock (tests). */
  now?: () => number;
}

export function createLineThrottle(
  emit: (line: string) => void,
  options: LineThrottleOptions,
): LineThrottle {
  const { intervalMs } = options;
  const now = options.now ?? Date.now;
  let partial = '';
  let pending: string | undefined;
  let last = -Infinity;
  const offer = (line: string): void => {
    const text = line.trimEnd();
    if (text === '') return;
    const t = now();
    if (/^[EW]: /.test(text) || t - last >= intervalMs) {
      pending = undefined;
      last = t;
      emit(text);
    } else {
      pending = text;
    }
  };
  return {
    push(chunk) {
      const lines = (partial + chunk.toString()).split(/\r?\n|\r/);
      partial = lines.pop() ?? '';
      for (const line of lines) offer(line);
    },
    flush() {
      if (partial !== '') {
        offer(partial);
        partial = '';
      }
      if (pending !== undefined) {
        emit(pending);
        pending = undefined;
      }
    },
  };
}
