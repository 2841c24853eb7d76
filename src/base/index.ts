/**
 * base: errors, the process wrapper (the only child_process user), undo stacks, progress
 * events, logging, polling and safe filesystem helpers.
 * Must never import another banger module: everything else builds on this.
 */
export * from './errors.js';
export * from './process.js';
export * from './undo-stack.js';
export * from './steps.js';
export * from './logger.js';
export * from './retry.js';
export * from './ids.js';
export * from './fs-safe.js';
export * from './sha256.js';
export * from './root-file.js';
