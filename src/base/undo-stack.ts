/**
 * Every multi-step mutation records how to undo each step it completed; on failure the
 * undos run in reverse so nothing half-made is left behind.
 */
export type UndoFn = () => Promise<void> | void;

export class UndoStack {
  private readonly entries: { label: string; undo: UndoFn }[] = [];

  push(label: string, undo: UndoFn): void {
    this.entries.push({ label, undo });
  }

  /** Forget the recorded undos: the mutation succeeded and its results are kept. */
  commit(): void {
    this.entries.length = 0;
  }

  /**
   * Runs the undos newest first. One failing undo does not stop the others; their errors
   * are returned so the caller can log them next to the original failure.
   */
  async unwind(): Promise<{ label: string; error: unknown }[]> {
    const failures: { label: string; error: unknown }[] = [];
    while (this.entries.length > 0) {
      const entry = this.entries.pop();
      if (!entry) break;
      try {
        await entry.undo();
      } catch (error) {
        failures.push({ label: entry.label, error });
      }
    }
    return failures;
  }

  get size(): number {
    return this.entries.length;
  }
}

/**
 * Runs `body` with a fresh UndoStack; if it throws, unwinds and rethrows the original
 * error (undo failures are reported through `onUndoFailure`).
 */
export async function withUndo<T>(
  body: (undo: UndoStack) => Promise<T>,
  onUndoFailure?: (label: string, error: unknown) => void,
): Promise<T> {
  const undo = new UndoStack();
  try {
    const result = await body(undo);
    undo.commit();
    return result;
  } catch (error) {
    for (const failure of await undo.unwind()) onUndoFailure?.(failure.label, failure.error);
    throw error;
  }
}
