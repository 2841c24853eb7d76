import { describe, expect, it } from 'vitest';
import { entryPath } from './entry-path.js';

describe('entryPath', () => {
  it('normalises ./, doubled and trailing slashes', () => {
    expect(entryPath('./usr//bin/', 'l')).toBe('usr/bin');
    expect(entryPath('./', 'l')).toBe('');
    expect(entryPath('a/./b', 'l')).toBe('a/b');
  });

  it.each([
    ['../x', /contains "\.\."/],
    ['a/../../x', /contains "\.\."/],
    ['/etc/passwd', /absolute path/],
    ['a\nb', /newline/],
    ['', /empty name/],
    ['x'.repeat(256), /longer than 255 bytes/],
    [`${'d/'.repeat(2100)}f`, /longer than 4095 bytes/],
  ])('refuses %j', (name, message) => {
    expect(() => entryPath(name, 'layer 1')).toThrow(message);
  });
});
