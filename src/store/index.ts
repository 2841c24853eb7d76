/**
 * store: the SQLite database (better-sqlite3), its numbered migrations and repositories.
 * The only module that touches SQLite; it never starts processes or touches VM files.
 */
export * from './database.js';
export * from './migrations.js';
export * from './vm-records.js';
export * from './network-leases.js';
export * from './workspace-records.js';
