import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { generate, OUT_DIR, SPEC_FILE } from './gen-firecracker-types.mjs';

describe('generated Firecracker API types', () => {
  it('are what the generator makes from the vendored spec today', async () => {
    const files = await generate();
    expect(Object.keys(files).sort()).toEqual(['api-schema.ts', 'api-types.ts']);
    for (const [name, text] of Object.entries(files)) {
      const onDisk = readFileSync(path.join(OUT_DIR, name), 'utf8');
      // On a mismatch: run `node scripts/gen-firecracker-types.mjs` and commit the result.
      expect(onDisk, `${name} is stale`).toBe(text);
    }
  });

  it('come from a vendored spec identical to the shared copy (when there is one)', () => {
    const shared = path.resolve(
      path.dirname(SPEC_FILE),
      '../../../shared/vendor-data/firecracker-api.yaml',
    );
    if (!existsSync(shared)) return;
    expect(readFileSync(SPEC_FILE, 'utf8')).toBe(readFileSync(shared, 'utf8'));
  });

  it('refuse a spec that is not swagger 2.0', async () => {
    await expect(generate('openapi: "3.0.0"\npaths: {}\n')).rejects.toThrow(/swagger 2.0/);
  });
});
