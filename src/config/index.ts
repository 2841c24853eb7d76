/**
 * config: where banger keeps things (layout.ts) and what the user configured (config.toml).
 * Must never create files or start processes: it only names and validates.
 */
export * from './layout.js';
export * from './config.js';
export * from './network-config.js';
export * from './file-sync-config.js';
export * from './warm-config.js';
export * from './version.js';
export * from './install-paths.js';
