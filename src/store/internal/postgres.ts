/**
 * The store on PostgreSQL through `effect/sql` (`@effect/sql-pg`).
 *
 * Tables (made by the migrations in `postgresSchema.ts`, recorded in `data_harness_migrations`):
 * - `data_harness_sessions`: one row per session, keyed (tenant, id): its header, its `seq` and the
 *   tail of its history (what the next commit is validated against);
 * - `data_harness_commits`: one row per commit, keyed (tenant, session id, seq), its steps as JSON
 *   text (text, not jsonb: jsonb reorders keys, and a tool call's input must go back byte for byte);
 * - `data_harness_asks` and `data_harness_events`: the event logs (`postgresAsks.ts`).
 *
 * A commit is one transaction: lock the session row, check the steps against its tail, insert the
 * commit row, update the session row. Several processes may commit to one session: the row lock
 * orders them, and `expectedSeq` lets a writer detect that another one came first. Event appends
 * run with `synchronous_commit = off`: a crash of the server may lose the last ones (never a
 * committed step), which a reconnecting client sees as a shorter log.
 */
import { Effect } from "effect"
import { Migrator, SqlClient, type SqlError } from "effect/sql"
import type { StoreError } from "../StoreError.js"
import type * as SessionStore from "../service.js"
import * as Blobs from "./blobs.js"
import { alreadyExists, checkId, checkTenant, fail, notFound, stepsOf, withKey } from "./errors.js"
import { advance, emptyTail, Invalid } from "./fold.js"
import { makeAskLogs } from "./postgresAsks.js"
import { decodeTail, encodeTail, fromSqlError, migrations } from "./postgresSchema.js"

export { fromSqlError } from "./postgresSchema.js"

import {
  conflict,
  decodeHeader,
  decodeSteps,
  encodeHeader,
  encodeSteps,
  foldSession,
  type Header,
  info,
  parseJson,
  type StoredCommit
} from "./records.js"

/**
 * Options of the Postgres layers.
 * @since 0.2.0
 */
export interface PostgresOptions {
  /** Where data files go (shared storage when several machines serve the same sessions). */
  readonly dataDirectory?: string | undefined
}

interface SessionRow {
  readonly seq: number
  readonly header: string
  readonly tail: string
  readonly updated_at: bigint | number
}

// the store

/** What the store's operations share: the client and, with a data directory, the data files. */
interface Pg {
  readonly sql: SqlClient.SqlClient
  readonly blobs: Blobs.Blobs | undefined
}

/** The Postgres store: migrates the tables, then serves each operation over the client. */
export const makePostgres = Effect.fnUntraced(function* (options: SessionStore.Options & PostgresOptions) {
  const sql = yield* SqlClient.SqlClient
  yield* Migrator.make({})({ loader: migrations, table: "data_harness_migrations" }).pipe(
    Effect.mapError(fromSqlError())
  )
  const pg: Pg = { sql, blobs: options.dataDirectory === undefined ? undefined : Blobs.make(options.dataDirectory) }
  const { appendEvents, endAsk, readEvents, asks } = makeAskLogs(sql, {
    asksPerSession: options.asksPerSession ?? 20,
    transaction: (key, effect) => transaction(pg, key, effect),
    requireSession: (key) => requireSession(pg, key)
  })
  const service: SessionStore.Service = {
    create: create(pg),
    load: load(pg),
    list: list(pg),
    delete: remove(pg),
    fork: fork(pg),
    commit: commit(pg),
    appendEvents,
    endAsk,
    readEvents,
    asks,
    importData: importData(pg),
    dataPath: dataPath(pg)
  }
  return service
})

/** The data files of the store, or `InvalidInput` when it has no data directory. */
const requireBlobs = (pg: Pg, key: SessionStore.SessionKey) =>
  pg.blobs === undefined
    ? Effect.fail(
        fail(
          "InvalidInput",
          "This store has no data directory: pass dataDirectory to SessionStore.layerPostgres to keep data files.",
          key
        )
      )
    : Effect.succeed(pg.blobs)

/** Runs a query effect, mapping database errors. */
const run = <A>(
  key: SessionStore.SessionKey | undefined,
  effect: Effect.Effect<A, StoreError | SqlError.SqlError>
): Effect.Effect<A, StoreError> =>
  Effect.mapError(effect, (error) => (error._tag === "SqlError" ? fromSqlError(key)(error) : error))

/** Runs a query effect in a transaction, mapping database errors. */
const transaction = <A>(
  pg: Pg,
  key: SessionStore.SessionKey | undefined,
  effect: Effect.Effect<A, StoreError | SqlError.SqlError>
): Effect.Effect<A, StoreError> => run(key, pg.sql.withTransaction(effect))

/** The session row of `key`, locked as `lock` says. */
const sessionRow = (pg: Pg, key: SessionStore.SessionKey, lock: "" | "FOR UPDATE" | "FOR SHARE") =>
  Effect.map(
    pg.sql<SessionRow>`SELECT seq, header, tail, updated_at FROM data_harness_sessions
      WHERE tenant = ${key.tenant} AND id = ${key.id} ${pg.sql.literal(lock)}`,
    (rows) => rows[0]
  )

/** The session `key` with its header and tail, read in the current transaction. */
const loadIn = (pg: Pg, key: SessionStore.SessionKey, lock: "" | "FOR SHARE") =>
  Effect.gen(function* () {
    const row = yield* sessionRow(pg, key, lock)
    if (row === undefined) return yield* Effect.fail(notFound(key))
    const header = yield* decodeHeader(yield* parseJson(row.header, `the header of ${key.id}`, key), key.id, key)
    const rows = yield* pg.sql<{ seq: number; at: bigint | number; steps: string }>`
      SELECT seq, at, steps FROM data_harness_commits
      WHERE tenant = ${key.tenant} AND session_id = ${key.id} ORDER BY seq`
    const commits: Array<StoredCommit> = []
    for (const commit of rows) {
      const at = `commit ${commit.seq} of ${key.id}`
      commits.push({
        seq: commit.seq,
        at: Number(commit.at),
        steps: yield* decodeSteps(yield* parseJson(commit.steps, at, key), at, key)
      })
    }
    return { header, ...(yield* foldSession(key, header, commits)) }
  })

const create =
  (pg: Pg): SessionStore.Service["create"] =>
  (tenant, options) => {
    const key = { tenant, id: options?.id ?? crypto.randomUUID() }
    return withKey(key, () =>
      Effect.gen(function* () {
        const now = Date.now()
        const header: Header = {
          v: 1,
          tenant,
          id: key.id,
          createdAt: now,
          ...(options?.options !== undefined ? { options: options.options } : {}),
          ...(options?.metadata !== undefined ? { metadata: options.metadata } : {})
        }
        const text = yield* encodeHeader(header, key)
        const inserted = yield* run(
          key,
          pg.sql`INSERT INTO data_harness_sessions (tenant, id, seq, created_at, updated_at, header, tail)
            VALUES (${tenant}, ${key.id}, 0, ${now}, ${now}, ${text}, ${encodeTail(emptyTail)})
            ON CONFLICT DO NOTHING RETURNING id`
        )
        if (inserted.length === 0) return yield* Effect.fail(alreadyExists(key))
        return (yield* run(key, loadIn(pg, key, ""))).session
      })
    )
  }

const load =
  (pg: Pg): SessionStore.Service["load"] =>
  (key) =>
    withKey(key, () => Effect.map(transaction(pg, key, loadIn(pg, key, "")), (loaded) => loaded.session))

const list =
  (pg: Pg): SessionStore.Service["list"] =>
  (tenant, options) => {
    const invalid =
      checkTenant(tenant) ?? (options?.after === undefined ? undefined : checkId("session", options.after))
    if (invalid !== undefined) return Effect.fail(invalid)
    return Effect.gen(function* () {
      const after = options?.after === undefined ? pg.sql`` : pg.sql`AND id > ${options.after}`
      const limit = options?.limit === undefined ? pg.sql`` : pg.sql`LIMIT ${Math.max(0, Math.floor(options.limit))}`
      const rows = yield* run(
        undefined,
        pg.sql<{ header: string; updated_at: bigint | number }>`SELECT header, updated_at FROM data_harness_sessions
          WHERE tenant = ${tenant} ${after} ORDER BY id ${limit}`
      )
      const infos: Array<SessionStore.SessionInfo> = []
      for (const row of rows) {
        const at = `a session header of tenant "${tenant}"`
        infos.push(info(yield* decodeHeader(yield* parseJson(row.header, at), at), Number(row.updated_at)))
      }
      return infos
    })
  }

const remove =
  (pg: Pg): SessionStore.Service["delete"] =>
  (key) =>
    withKey(key, () =>
      Effect.gen(function* () {
        const deleted = yield* run(
          key,
          pg.sql`DELETE FROM data_harness_sessions WHERE tenant = ${key.tenant} AND id = ${key.id} RETURNING id`
        )
        if (deleted.length === 0) return yield* Effect.fail(notFound(key))
        if (pg.blobs !== undefined) yield* pg.blobs.remove(key)
      })
    )

const fork =
  (pg: Pg): SessionStore.Service["fork"] =>
  (key, options) =>
    withKey(key, () => {
      const target = { tenant: key.tenant, id: options?.id ?? crypto.randomUUID() }
      return withKey(target, () =>
        transaction(
          pg,
          target,
          Effect.gen(function* () {
            const parent = yield* loadIn(pg, key, "FOR SHARE")
            const now = Date.now()
            const header: Header = {
              ...parent.header,
              id: target.id,
              createdAt: now,
              forkedFrom: { id: key.id, seq: parent.session.seq }
            }
            const inserted = yield* pg.sql`INSERT INTO data_harness_sessions
              (tenant, id, seq, created_at, updated_at, header, tail)
              VALUES (${key.tenant}, ${target.id}, ${parent.session.seq}, ${now}, ${now},
                ${yield* encodeHeader(header, target)}, ${encodeTail(parent.tail)})
              ON CONFLICT DO NOTHING RETURNING id`
            if (inserted.length === 0) return yield* Effect.fail(alreadyExists(target))
            yield* pg.sql`INSERT INTO data_harness_commits (tenant, session_id, seq, at, steps)
              SELECT tenant, ${target.id}, seq, at, steps FROM data_harness_commits
              WHERE tenant = ${key.tenant} AND session_id = ${key.id}`
            const { blobs } = pg
            if (blobs !== undefined) {
              // the new row is ours until the transaction ends: nobody else can use this id's files
              yield* blobs.fork(key, target).pipe(Effect.tapError(() => blobs.remove(target)))
            }
            return (yield* loadIn(pg, target, "")).session
          })
        )
      )
    })

const commit =
  (pg: Pg): SessionStore.Service["commit"] =>
  (key, steps, options) =>
    withKey(key, () => {
      const list = stepsOf(steps)
      if (list.length === 0) return Effect.fail(fail("InvalidInput", "A commit needs at least one step.", key))
      return Effect.flatMap(encodeSteps(list, key), (text) =>
        transaction(
          pg,
          key,
          Effect.gen(function* () {
            const row = yield* sessionRow(pg, key, "FOR UPDATE")
            if (row === undefined) return yield* Effect.fail(notFound(key))
            if (options?.expectedSeq !== undefined && options.expectedSeq !== row.seq) {
              return yield* Effect.fail(conflict(key, options.expectedSeq, row.seq))
            }
            let tail = yield* decodeTail(row.tail, key)
            for (const step of list) {
              const next = advance(tail, step)
              if (next instanceof Invalid) return yield* Effect.fail(fail("InvalidStep", next.message, key))
              tail = next
            }
            const seq = row.seq + 1
            const now = Date.now()
            yield* pg.sql`INSERT INTO data_harness_commits (tenant, session_id, seq, at, steps)
              VALUES (${key.tenant}, ${key.id}, ${seq}, ${now}, ${text})`
            yield* pg.sql`UPDATE data_harness_sessions SET seq = ${seq}, tail = ${encodeTail(tail)}, updated_at = ${now}
              WHERE tenant = ${key.tenant} AND id = ${key.id}`
            return seq
          })
        )
      )
    })

/** The session row locked for sharing (so it is not deleted meanwhile), or `NotFound`. */
const requireSession = (pg: Pg, key: SessionStore.SessionKey) =>
  Effect.flatMap(sessionRow(pg, key, "FOR SHARE"), (row) =>
    row === undefined ? Effect.fail(notFound(key)) : Effect.void
  )

// data

const importData =
  (pg: Pg): SessionStore.Service["importData"] =>
  (key, file, options) =>
    withKey(key, () =>
      Effect.gen(function* () {
        const data = yield* requireBlobs(pg, key)
        yield* transaction(pg, key, requireSession(pg, key))
        return yield* data.importFile(key, file, { format: options?.format ?? "parquet", move: options?.move ?? false })
      })
    )

const dataPath =
  (pg: Pg): SessionStore.Service["dataPath"] =>
  (key, ref) =>
    withKey(key, () =>
      Effect.gen(function* () {
        const data = yield* requireBlobs(pg, key)
        yield* transaction(pg, key, requireSession(pg, key))
        return yield* data.path(key, ref)
      })
    )
