import { describe, expect, it } from 'vitest';
import { BangerError } from '../base/index.js';
import { validateImageName, validateKernelName } from './image-name.js';

describe('validateImageName', () => {
  it.each(['debian-bookworm', 'a', '0', 'my_img.v2', 'x'.repeat(64)])('accepts %s', (name) => {
    expect(validateImageName(name)).toBe(name);
  });

  it.each([
    '',
    'Debian',
    '-lead',
    '.hidden',
    '_x',
    'a/b',
    '..',
    '../etc',
    'a b',
    'x'.repeat(65),
    'naïve',
    'a\nb',
  ])('refuses %j with bad_request naming the rule', (name) => {
    const err = (() => {
      try {
        validateImageName(name);
      } catch (e) {
        return e;
      }
      return undefined;
    })();
    expect(err).toBeInstanceOf(BangerError);
    expect((err as BangerError).code).toBe('bad_request');
    expect((err as BangerError).message).toContain('invalid image name');
    expect((err as BangerError).message).toContain('at most 64 characters');
  });

  it('refuses non-strings', () => {
    expect(() => validateImageName(42)).toThrow(/invalid image name 42/);
    expect(() => validateImageName(undefined)).toThrow(/invalid image name/);
  });

  it('names kernels as kernels', () => {
    expect(() => validateKernelName('../vmlinux')).toThrow(/invalid kernel name/);
    expect(validateKernelName('debian')).toBe('debian');
  });
});
