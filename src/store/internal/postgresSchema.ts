/**
 * The Postgres store's tables (its migrations), the mapping of database errors to `StoreError`s,
 * and the codec of a session row's `tail` column.
 */
import { Effect, Schema } from "effect"
import { Migrator, SqlClient, type SqlError } from "effect/sql"
import type { StoreError } from "../StoreError.js"
import type * as SessionStore from "../service.js"
import { fail } from "./errors.js"
import type { Tail } from "./fold.js"
import { parseJson } from "./records.js"

// migrations

export const migrations = Migrator.fromRecord({
  "1_sessions": Effect.gen(function* () {
    const sql = yield* SqlClient.SqlClient
    yield* sql`CREATE TABLE data_harness_sessions (
      tenant text COLLATE "C" NOT NULL,
      id text COLLATE "C" NOT NULL,
      seq integer NOT NULL,
      created_at bigint NOT NULL,
      updated_at bigint NOT NULL,
      header text NOT NULL,
      tail text NOT NULL,
      PRIMARY KEY (tenant, id)
    )`
    yield* sql`CREATE TABLE data_harness_commits (
      tenant text COLLATE "C" NOT NULL,
      session_id text COLLATE "C" NOT NULL,
      seq integer NOT NULL,
      at bigint NOT NULL,
      steps text NOT NULL,
      PRIMARY KEY (tenant, session_id, seq),
      FOREIGN KEY (tenant, session_id) REFERENCES data_harness_sessions (tenant, id) ON DELETE CASCADE
    )`
    yield* sql`CREATE TABLE data_harness_asks (
      tenant text COLLATE "C" NOT NULL,
      session_id text COLLATE "C" NOT NULL,
      ask_id text COLLATE "C" NOT NULL,
      started_at bigint NOT NULL,
      last_event_id integer NOT NULL,
      ended text,
      PRIMARY KEY (tenant, session_id, ask_id),
      FOREIGN KEY (tenant, session_id) REFERENCES data_harness_sessions (tenant, id) ON DELETE CASCADE
    )`
    yield* sql`CREATE TABLE data_harness_events (
      tenant text COLLATE "C" NOT NULL,
      session_id text COLLATE "C" NOT NULL,
      ask_id text COLLATE "C" NOT NULL,
      id integer NOT NULL,
      event text NOT NULL,
      PRIMARY KEY (tenant, session_id, ask_id, id),
      FOREIGN KEY (tenant, session_id, ask_id)
        REFERENCES data_harness_asks (tenant, session_id, ask_id) ON DELETE CASCADE
    )`
  })
})

// errors

/** A database error as a `StoreError`: `Unavailable` (retryable) for a lost or busy database. */
export const fromSqlError =
  (key?: SessionStore.SessionKey) =>
  (error: SqlError.SqlError | Migrator.MigrationError): StoreError => {
    const where = key === undefined ? {} : key
    if (error._tag === "MigrationError") {
      return fail(
        "Io",
        `The session store's migrations failed (${error.kind}): ${error.message}. Check the database user's rights.`,
        undefined,
        error
      )
    }
    return error.isRetryable
      ? fail(
          "Unavailable",
          `The database is unreachable or busy (${error.message}): retry; if it persists, check the connection settings.`,
          key,
          error
        )
      : fail("Io", `The database failed: ${error.message}.`, "tenant" in where ? key : undefined, error)
  }

const Tail_ = Schema.Struct({
  lastRole: Schema.optionalKey(Schema.Literals(["user", "assistant"])),
  pending: Schema.Array(Schema.String)
})
export const encodeTail = (tail: Tail): string =>
  JSON.stringify(tail.lastRole === undefined ? { pending: tail.pending } : tail)
export const decodeTail = (text: string, key: SessionStore.SessionKey) =>
  Effect.flatMap(parseJson(text, `the tail of ${key.id}`, key), (json) =>
    Effect.map(
      Schema.decodeUnknownEffect(Tail_)(json).pipe(
        Effect.mapError(() => fail("Corrupt", `The stored tail of session "${key.id}" does not decode.`, key))
      ),
      (tail): Tail => ({ lastRole: tail.lastRole, pending: tail.pending })
    )
  )
