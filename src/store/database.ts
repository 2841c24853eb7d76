/**
 * Opens the SQLite database (WAL, foreign keys, busy timeout) and brings its schema up to
 * date. A database written by a newer banger is refused rather than guessed at.
 */
import Database from 'better-sqlite3';
import { BangerError } from '../base/index.js';
import { MIGRATIONS, type Migration } from './migrations.js';

export type Db = Database.Database;

export interface OpenOptions {
  readonly?: boolean;
  migrations?: readonly Migration[];
}

export function openDatabase(file: string, options: OpenOptions = {}): Db {
  const db = new Database(file, {
    readonly: options.readonly ?? false,
    fileMustExist: options.readonly ?? false,
  });
  db.pragma('busy_timeout = 5000');
  if (!options.readonly) {
    db.pragma('journal_mode = WAL');
    db.pragma('foreign_keys = ON');
    migrate(db, options.migrations ?? MIGRATIONS);
  }
  return db;
}

/** Applies pending migrations in one transaction each; returns the resulting version. */
export function migrate(db: Db, migrations: readonly Migration[] = MIGRATIONS): number {
  const latest = migrations.at(-1)?.version ?? 0;
  const current = db.pragma('user_version', { simple: true }) as number;
  if (current > latest) {
    throw new BangerError(
      'precondition_failed',
      `database schema version ${String(current)} is newer than this banger understands (${String(latest)})`,
      { hint: 'upgrade banger, or move the database aside' },
    );
  }
  for (const migration of migrations) {
    if (migration.version <= current) continue;
    db.transaction(() => {
      db.exec(migration.sql);
      db.pragma(`user_version = ${String(migration.version)}`);
    })();
  }
  return db.pragma('user_version', { simple: true }) as number;
}
