import { describe, expect, it } from 'vitest';
import { resolveLayout } from '../config/index.js';
import { parseCpuMhzKhz } from '../vmm/host-info.js';
import { VMM_LOG_MARKER as VMM_MARKER } from '../vmm/index.js';
import { helperPaths } from './helper-paths.js';
import { parseTscKhz } from './tsc.js';
import { VMM_LOG_MARKER } from './vmm-ops.js';

describe('the helper stays in step with the modules it may not import', () => {
  it('names the same system paths as config/layout', () => {
    for (const root of ['/', '/tmp/bgsys-1']) {
      const layout = resolveLayout({ mode: 'system', systemRoot: root, env: {} });
      const paths = helperPaths(root);
      expect(paths.stateDir).toBe(layout.stateDir);
      expect(paths.cacheDir).toBe(layout.cacheDir);
      expect(paths.runtimeDir).toBe(layout.runtimeDir);
      expect(paths.socket).toBe(layout.helperSocket);
    }
  });

  it('reads the TSC frequency as vmm/host-info does', () => {
    for (const text of [
      'cpu MHz\t\t: 2899.998\n',
      'model name: x\ncpu MHz : 3000\n',
      'nothing\n',
    ]) {
      expect(parseTscKhz(text)).toBe(parseCpuMhzKhz(text));
    }
  });

  it('marks VMM starts in the log as vmm/spawn-vmm does', () => {
    expect(VMM_LOG_MARKER).toBe(VMM_MARKER);
  });
});
