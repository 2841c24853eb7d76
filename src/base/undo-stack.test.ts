import { describe, expect, it } from 'vitest';
import { UndoStack, withUndo } from './undo-stack.js';

describe('UndoStack', () => {
  it('runs undos newest first and keeps going when one fails', async () => {
    const order: string[] = [];
    const stack = new UndoStack();
    stack.push('a', () => {
      order.push('a');
    });
    stack.push('b', () => {
      throw new Error('b broke');
    });
    stack.push('c', () => {
      order.push('c');
    });
    const failures = await stack.unwind();
    expect(order).toEqual(['c', 'a']);
    expect(failures.map((f) => f.label)).toEqual(['b']);
    expect(stack.size).toBe(0);
  });

  it('withUndo unwinds on failure and rethrows the original error', async () => {
    const undone: string[] = [];
    await expect(
      withUndo(async (undo) => {
        undo.push('made dir', () => {
          undone.push('dir');
        });
        await Promise.resolve();
        throw new Error('step 2 failed');
      }),
    ).rejects.toThrow('step 2 failed');
    expect(undone).toEqual(['dir']);
  });

  it('withUndo keeps results on success', async () => {
    const undone: string[] = [];
    const value = await withUndo(async (undo) => {
      undo.push('x', () => {
        undone.push('x');
      });
      return Promise.resolve(42);
    });
    expect(value).toBe(42);
    expect(undone).toEqual([]);
  });
});
