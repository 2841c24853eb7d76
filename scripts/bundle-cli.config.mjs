// The `banger` CLI as one file: every command starts a Node process, and resolving and
// loading ~100 ES modules one by one cost more than Node itself (measured: --version 0.2 s
// from dist/src, 0.11 s bundled). The daemon and the helper stay unbundled (long-running).
export default {
  input: 'dist/src/cli/main.js',
  platform: 'node',
  external: [/^node:/],
  logLevel: 'warn',
  output: { file: 'dist/src/cli/banger.mjs', format: 'esm' },
};
