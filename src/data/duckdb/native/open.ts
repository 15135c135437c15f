/**
 * Opening a database: a DuckDB instance and one connection, locked down before anything else
 * runs on it, and closed when the scope closes. This module (and everything in `native/`) loads
 * DuckDB's native binding; `../duckdb.ts` imports it only when the first database opens.
 * @since 0.1.0
 */
import { DuckDBInstance } from "@duckdb/node-api"
import { Effect, type Scope, Semaphore } from "effect"
import type { Database } from "../Database.js"
import { SqlError } from "../errors.js"
import * as OpenDatabases from "../openDatabases.js"
import { instanceOptions, lockdownStatements, type Settings } from "../settings.js"
import { type Connection, errorMessage, makeConnection } from "./connection.js"
import { registerFile } from "./files.js"
import { registerRows } from "./rows.js"
import * as Tables from "./tables.js"

/** The connection behind each database this module made, for `copyTo`. */
const connections = new WeakMap<Database, { readonly connection: Connection; readonly lock: Semaphore.Semaphore }>()

const openError = (cause: unknown) => new SqlError({ message: `Could not open DuckDB: ${errorMessage(cause)}` })

/** The `Database` over one connection; every operation holds `lock`. */
const makeDatabase = (db: Connection, lock: Semaphore.Semaphore): Database => {
  const database: Database = {
    registerRows: (name, rows) => lock.withPermit(registerRows(db, name, rows)),
    registerFile: (name, path, format) => lock.withPermit(registerFile(db, name, path, format)),
    query: (sql, options) => lock.withPermit(Tables.query(db, sql, options)),
    createTableAs: (name, sql) => lock.withPermit(Tables.createTableAs(db, name, sql)),
    selectInto: (name, sql, options) => lock.withPermit(Tables.selectInto(db, name, sql, options)),
    describe: (name, sampleSize) => lock.withPermit(Tables.describe(db, name, sampleSize)),
    readAll: (name) => lock.withPermit(Tables.readAll(db, name)),
    drop: (name) => lock.withPermit(Tables.drop(db, name)),
    rename: (from, to) => lock.withPermit(Tables.rename(db, from, to)),
    copyTo: (name, target) =>
      Effect.suspend(() => {
        const other = connections.get(target)
        if (other === undefined) return Effect.fail(new SqlError({ message: "copyTo: the target is not a database" }))
        return lock.withPermit(other.lock.withPermit(Tables.copyTable(db, other.connection, name)))
      })
  }
  connections.set(database, { connection: db, lock })
  return database
}

/**
 * Opens an in-memory DuckDB database with `settings`, locked down (see `settings.ts`), and
 * closes it when the scope closes (after any running operation finishes). The open count
 * (`openDatabases`) goes up here and down in the release.
 * @since 0.1.0
 */
export const open = (settings: Settings): Effect.Effect<Database, SqlError, Scope.Scope> =>
  Effect.gen(function* () {
    const options = instanceOptions(settings)
    if (options instanceof SqlError) return yield* options
    const lock = yield* Semaphore.make(1)
    const instance = yield* Effect.acquireRelease(
      Effect.tryPromise({ try: () => DuckDBInstance.create(":memory:", options), catch: openError }).pipe(
        Effect.tap(() => OpenDatabases.record(1))
      ),
      (instance) =>
        lock.withPermit(Effect.sync(() => instance.closeSync())).pipe(Effect.ensuring(OpenDatabases.record(-1)))
    )
    const connection = yield* Effect.acquireRelease(
      Effect.tryPromise({ try: () => instance.connect(), catch: openError }),
      (connection) => lock.withPermit(Effect.sync(() => connection.closeSync()))
    )
    const db = makeConnection(connection)
    for (const statement of lockdownStatements(settings)) {
      yield* db.run(statement, (message) => openError(`${statement}: ${message}`))
    }
    return makeDatabase(db, lock)
  })
