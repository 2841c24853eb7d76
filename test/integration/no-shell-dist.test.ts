/**
 * No code path on the host runs a shell: the lint rule checks the sources, this checks what
 * actually ships (dist/). Only base/process.js may load child_process, and it only spawns
 * with an argv; nothing anywhere calls exec/execSync/execFile/spawnSync, sets `shell: true`,
 * or builds a shell command-string argv (`sh -c ...`).
 */
import { existsSync, promises as fs } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT, requirePrerequisite } from '../support/banger-home.js';

const DIST = path.join(REPO_ROOT, 'dist', 'src');
const built = requirePrerequisite(existsSync(DIST), 'a build (npm run build)');

async function jsFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await fs.readdir(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) out.push(...(await jsFiles(full)));
    else if (entry.name.endsWith('.js')) out.push(full);
  }
  return out;
}

/** The code without comments (strings stay: an argv literal is what we look for). */
function code(text: string): string {
  return text
    .replace(/\/\*[\s\S]*?\*\//g, '')
    .replace(/^\s*\/\/.*$/gm, '')
    .replace(/\s\/\/\s.*$/gm, '');
}

const BANNED: [string, RegExp][] = [
  [
    'exec/execSync/execFile/spawnSync call',
    /(?<![.\w])(exec|execSync|execFile|execFileSync|spawnSync)\s*\(/,
  ],
  [
    'a child_process method other than spawn',
    /\b(cp|childProcess|child_process)\.(exec|execSync|execFile|execFileSync|spawnSync)\b/,
  ],
  ['shell: true', /\bshell\s*:\s*(true|['"`])/],
  [
    'a shell with -c in an argv',
    /['"`](\/bin\/|\/usr\/bin\/)?(ba|da|z|k|a)?sh['"`]\s*,\s*\[?\s*['"`]-c['"`]/,
  ],
];

describe.skipIf(!built)('the built output runs no shell', () => {
  it('loads child_process only in base/process.js, and only spawn from it', async () => {
    const loaders: string[] = [];
    for (const file of await jsFiles(DIST)) {
      const text = code(await fs.readFile(file, 'utf8'));
      if (/(from\s*|require\(\s*|import\(\s*)['"](node:)?child_process['"]/.test(text))
        loaders.push(path.relative(DIST, file));
    }
    expect(loaders).toEqual(['base/process.js']);
    const wrapper = code(await fs.readFile(path.join(DIST, 'base', 'process.js'), 'utf8'));
    expect(wrapper).toMatch(/import \{ spawn as nodeSpawn \} from 'node:child_process'/);
    expect(wrapper).toMatch(/shell: false/);
  });

  it('has no exec, execSync, shell: true or sh -c anywhere', async () => {
    const hits: string[] = [];
    for (const file of await jsFiles(DIST)) {
      const lines = code(await fs.readFile(file, 'utf8')).split('\n');
      lines.forEach((line, i) => {
        // A method named exec (AgentClient.exec, VmService.exec) is a definition, not a call.
        if (/^\s*(async\s+)?(exec)\s*\(/.test(line)) return;
        for (const [what, pattern] of BANNED) {
          if (pattern.test(line))
            hits.push(`${path.relative(DIST, file)}:${String(i + 1)}: ${what}: ${line.trim()}`);
        }
      });
    }
    expect(hits).toEqual([]);
  });

  it('would catch a shell call if one slipped in', () => {
    const samples = [
      "execSync('ls')",
      "cp.exec('rm -rf x')",
      "spawn('sh', ['-c', cmd])",
      'spawn(file, argv, { shell: true })',
      "run('/bin/bash', ['-c', line])",
    ];
    for (const sample of samples)
      expect(
        BANNED.some(([, p]) => p.test(sample)),
        sample,
      ).toBe(true);
  });
});
