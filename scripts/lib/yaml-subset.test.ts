import { describe, expect, it } from 'vitest';
import { parseYaml } from './yaml-subset.mjs';

describe('parseYaml (the OpenAPI subset)', () => {
  it('reads nested mappings, sequences at their key indentation and inline item mappings', () => {
    const text = [
      'paths:',
      '  /drives/{drive_id}:',
      '    put:',
      '      parameters:',
      '      - name: drive_id',
      '        in: path',
      '        required: true',
      '      - name: body',
      '        in: body',
      '      responses:',
      '        204:',
      '          description: ok',
    ].join('\n');
    expect(parseYaml(text)).toEqual({
      paths: {
        '/drives/{drive_id}': {
          put: {
            parameters: [
              { name: 'drive_id', in: 'path', required: true },
              { name: 'body', in: 'body' },
            ],
            responses: { '204': { description: 'ok' } },
          },
        },
      },
    });
  });

  it('types plain scalars by the YAML 1.2 core schema ("Off" and "2M" stay strings)', () => {
    expect(
      parseYaml('a: [Error, Off, 2M, 3, true, null, "x"]\nb: 1.5\nc: ~\nd: "#/definitions/X"'),
    ).toEqual({
      a: ['Error', 'Off', '2M', 3, true, null, 'x'],
      b: 1.5,
      c: null,
      d: '#/definitions/X',
    });
  });

  it('folds multi-line plain, quoted and >- scalars, and drops comments', () => {
    const text = [
      'description:',
      '  first line',
      '  second line # a comment',
      'quoted: "one',
      '  two"',
      'folded: >-',
      '  alpha',
      '  beta',
      '',
      '  gamma',
      '# a comment line',
      'literal: |',
      '  x',
      '  y',
    ].join('\n');
    expect(parseYaml(text)).toEqual({
      description: 'first line second line',
      quoted: 'one two',
      folded: 'alpha beta\ngamma',
      literal: 'x\ny\n',
    });
  });

  it('refuses what it does not understand, naming the line', () => {
    expect(() => parseYaml('a: &anchor 1')).toThrow(/line 1: anchors/);
    expect(() => parseYaml('a: {b: 1}')).toThrow(/flow mappings/);
    expect(() => parseYaml('a: 1\na: 2')).toThrow(/line 2: duplicate key a/);
    expect(() => parseYaml('a:\n    b: 1\n  c: 2')).toThrow(/line 3/);
  });
});
