/**
 * The local stores' SQLite: Node's built-in `node:sqlite` (unflagged since Node 22.13.0, nodejs/node#55890), so
 * nothing is compiled at install time. What better-sqlite3 gave that `DatabaseSync` lacks is here: pragmas,
 * transactions (IMMEDIATE or deferred, nested ones as savepoints) and a first-column read.
 */
import type * as NodeSqlite from 'node:sqlite';

export type Database = NodeSqlite.DatabaseSync;
export type Statement = NodeSqlite.StatementSync;
export type SqlValue = NodeSqlite.SQLInputValue;

const sqlite = loadSqlite();

/**
 * Loads `node:sqlite` without its one-time "SQLite is an experimental feature" warning, which Node 22 prints on
 * stderr of every command that opens a store (`npm start`, the demo, the CLI's output). Only that warning is
 * dropped, and only while the module loads; every other warning goes through as usual.
 */
function loadSqlite(): typeof NodeSqlite {
  const emitWarning = process.emitWarning;
  process.emitWarning = function (this: NodeJS.Process, warning: string | Error, ...rest: unknown[]): void {
    const type = typeof rest[0] === 'string' ? rest[0] : (rest[0] as { type?: unknown } | undefined)?.type;
    const message = typeof warning === 'string' ? warning : warning.message;
    if (type === 'ExperimentalWarning' && message.startsWith('SQLite ')) return;
    (emitWarning as (...args: unknown[]) => void).call(process, warning, ...rest);
  } as typeof process.emitWarning;
  let loaded: typeof NodeSqlite | undefined;
  try {
    // Undefined before Node 22.13 (or 22.5 with --experimental-sqlite); getBuiltinModule itself is in 20.16+.
    loaded = process.getBuiltinModule?.('node:sqlite');
  } finally {
    process.emitWarning = emitWarning;
  }
  if (!loaded?.DatabaseSync) {
    throw new Error(
      `The local runtime keeps its state with node:sqlite, which needs Node.js 22.13 or later; this is ` +
        `${process.version}. Run the command through scripts/node22.sh (e.g. scripts/node22.sh npm start).`,
    );
  }
  return loaded;
}

/** Opens (creating it if need be) the database file with the given pragmas, in order. */
export function openDatabase(file: string, pragmas: string[] = []): Database {
  const db = new sqlite.DatabaseSync(file);
  for (const pragma of pragmas) db.exec(`PRAGMA ${pragma}`);
  return db;
}

const depth = new WeakMap<Database, number>();

/**
 * Runs `fn` atomically: in a transaction (BEGIN IMMEDIATE takes the write lock up front, so a busy database is
 * waited for at the start rather than failing at the first write; DEFERRED takes it at the first write), or in a
 * savepoint when a transaction opened here is already running, so a throwing `fn` undoes only its own writes.
 * `fn` must be synchronous: nothing else may run on the connection until it returns.
 */
export function transaction<T>(db: Database, fn: () => T, mode: 'IMMEDIATE' | 'DEFERRED' = 'DEFERRED'): T {
  const level = depth.get(db) ?? 0;
  const savepoint = `nested_${level}`;
  db.exec(level === 0 ? `BEGIN ${mode}` : `SAVEPOINT ${savepoint}`);
  depth.set(db, level + 1);
  try {
    const result = fn();
    db.exec(level === 0 ? 'COMMIT' : `RELEASE ${savepoint}`);
    return result;
  } catch (err) {
    if (level === 0) rollback(db);
    else db.exec(`ROLLBACK TO ${savepoint}; RELEASE ${savepoint}`);
    throw err;
  } finally {
    depth.set(db, level);
  }
}

function rollback(db: Database): void {
  try {
    db.exec('ROLLBACK');
  } catch {
    // SQLite had already rolled the transaction back itself (it does on some errors, e.g. SQLITE_FULL).
  }
}

/** Row typed as the caller knows it (node:sqlite types rows as records of SQL values). */
export function one<R>(stmt: Statement, ...params: SqlValue[]): R | undefined {
  return stmt.get(...params) as R | undefined;
}

export function all<R>(stmt: Statement, ...params: SqlValue[]): R[] {
  return stmt.all(...params) as R[];
}

/** The first column of the first row, or undefined when there is no row (better-sqlite3's `pluck().get()`). */
export function first<V>(stmt: Statement, ...params: SqlValue[]): V | undefined {
  const row = stmt.get(...params);
  if (row === undefined) return undefined;
  for (const key in row) return row[key] as V;
  return undefined;
}

/** The first column of every row (better-sqlite3's `pluck().all()`). */
export function firsts<V>(stmt: Statement, ...params: SqlValue[]): V[] {
  return stmt.all(...params).map((row) => {
    for (const key in row) return row[key] as V;
    return undefined as V;
  });
}

/** A pragma's current value (better-sqlite3's `pragma(name, { simple: true })`). */
export function pragma<V = unknown>(db: Database, name: string): V | undefined {
  return first<V>(db.prepare(`PRAGMA ${name}`));
}
