/**
 * The store on PostgreSQL through `effect/sql` (`@effect/sql-pg`).
 *
 * Tables (made by the migrations below, recorded in `data_harness_migrations`):
 * - `data_harness_sessions`: one row per session, keyed (tenant, id): its header, its `seq` and the
 *   tail of its history (what the next commit is validated against);
 * - `data_harness_commits`: one row per commit, keyed (tenant, session id, seq), its steps as JSON
 *   text (text, not jsonb: jsonb reorders keys, and a tool call's input must go back byte for byte);
 * - `data_harness_asks` and `data_harness_events`: the event logs.
 *
 * A commit is one transaction: lock the session row, check the steps against its tail, insert the
 * commit row, update the session row. Several processes may commit to one session: the row lock
 * orders them, and `expectedSeq` lets a writer detect that another one came first. Event appends
 * run with `synchronous_commit = off`: a crash of the server may lose the last ones (never a
 * committed step), which a reconnecting client sees as a shorter log.
 */
import { Effect, Schema } from "effect"
import type * as Arr from "effect/Array"
import { Migrator, SqlClient, type SqlError } from "effect/sql"
import type * as SessionStore from "../SessionStore.js"
import { AskEnd } from "../Step.js"
import type { StoreError } from "../StoreError.js"
import * as Blobs from "./blobs.js"
import {
  alreadyExists,
  askNotFound,
  checkId,
  checkTenant,
  encodeJson,
  fail,
  notFound,
  stepsOf,
  withKey
} from "./errors.js"
import { advance, emptyTail, Invalid } from "./fold.js"
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

const encodeAskEnd = encodeJson(AskEnd, "The end of the ask")

interface SessionRow {
  readonly seq: number
  readonly header: string
  readonly tail: string
  readonly updated_at: bigint | number
}

// the store

export const makePostgres = Effect.fnUntraced(function* (options: SessionStore.Options & PostgresOptions) {
  const sql = yield* SqlClient.SqlClient
  yield* Migrator.make({})({ loader: migrations, table: "data_harness_migrations" }).pipe(
    Effect.mapError(fromSqlError())
  )
  const asksPerSession = options.asksPerSession ?? 20
  const blobs = options.dataDirectory === undefined ? undefined : Blobs.make(options.dataDirectory)
  const requireBlobs = (key: SessionStore.SessionKey) =>
    blobs === undefined
      ? Effect.fail(
          fail(
            "InvalidInput",
            "This store has no data directory: pass dataDirectory to SessionStore.layerPostgres to keep data files.",
            key
          )
        )
      : Effect.succeed(blobs)

  /** Runs a query effect, mapping database errors. */
  const run = <A>(
    key: SessionStore.SessionKey | undefined,
    effect: Effect.Effect<A, StoreError | SqlError.SqlError>
  ): Effect.Effect<A, StoreError> =>
    Effect.mapError(effect, (error) => (error._tag === "SqlError" ? fromSqlError(key)(error) : error))

  const transaction = <A>(
    key: SessionStore.SessionKey | undefined,
    effect: Effect.Effect<A, StoreError | SqlError.SqlError>
  ): Effect.Effect<A, StoreError> => run(key, sql.withTransaction(effect))

  const sessionRow = (key: SessionStore.SessionKey, lock: "" | "FOR UPDATE" | "FOR SHARE") =>
    Effect.map(
      sql<SessionRow>`SELECT seq, header, tail, updated_at FROM data_harness_sessions
        WHERE tenant = ${key.tenant} AND id = ${key.id} ${sql.literal(lock)}`,
      (rows) => rows[0]
    )

  const loadIn = (key: SessionStore.SessionKey, lock: "" | "FOR SHARE") =>
    Effect.gen(function* () {
      const row = yield* sessionRow(key, lock)
      if (row === undefined) return yield* Effect.fail(notFound(key))
      const header = yield* decodeHeader(yield* parseJson(row.header, `the header of ${key.id}`, key), key.id, key)
      const rows = yield* sql<{ seq: number; at: bigint | number; steps: string }>`
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

  const create: SessionStore.Service["create"] = (tenant, options) => {
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
          sql`INSERT INTO data_harness_sessions (tenant, id, seq, created_at, updated_at, header, tail)
            VALUES (${tenant}, ${key.id}, 0, ${now}, ${now}, ${text}, ${encodeTail(emptyTail)})
            ON CONFLICT DO NOTHING RETURNING id`
        )
        if (inserted.length === 0) return yield* Effect.fail(alreadyExists(key))
        return (yield* run(key, loadIn(key, ""))).session
      })
    )
  }

  const load: SessionStore.Service["load"] = (key) =>
    withKey(key, () => Effect.map(transaction(key, loadIn(key, "")), (loaded) => loaded.session))

  const list: SessionStore.Service["list"] = (tenant, options) => {
    const invalid =
      checkTenant(tenant) ?? (options?.after === undefined ? undefined : checkId("session", options.after))
    if (invalid !== undefined) return Effect.fail(invalid)
    return Effect.gen(function* () {
      const after = options?.after === undefined ? sql`` : sql`AND id > ${options.after}`
      const limit = options?.limit === undefined ? sql`` : sql`LIMIT ${Math.max(0, Math.floor(options.limit))}`
      const rows = yield* run(
        undefined,
        sql<{ header: string; updated_at: bigint | number }>`SELECT header, updated_at FROM data_harness_sessions
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

  const remove: SessionStore.Service["delete"] = (key) =>
    withKey(key, () =>
      Effect.gen(function* () {
        const deleted = yield* run(
          key,
          sql`DELETE FROM data_harness_sessions WHERE tenant = ${key.tenant} AND id = ${key.id} RETURNING id`
        )
        if (deleted.length === 0) return yield* Effect.fail(notFound(key))
        if (blobs !== undefined) yield* blobs.remove(key)
      })
    )

  const fork: SessionStore.Service["fork"] = (key, options) =>
    withKey(key, () => {
      const target = { tenant: key.tenant, id: options?.id ?? crypto.randomUUID() }
      return withKey(target, () =>
        transaction(
          target,
          Effect.gen(function* () {
            const parent = yield* loadIn(key, "FOR SHARE")
            const now = Date.now()
            const header: Header = {
              ...parent.header,
              id: target.id,
              createdAt: now,
              forkedFrom: { id: key.id, seq: parent.session.seq }
            }
            const inserted = yield* sql`INSERT INTO data_harness_sessions
              (tenant, id, seq, created_at, updated_at, header, tail)
              VALUES (${key.tenant}, ${target.id}, ${parent.session.seq}, ${now}, ${now},
                ${yield* encodeHeader(header, target)}, ${encodeTail(parent.tail)})
              ON CONFLICT DO NOTHING RETURNING id`
            if (inserted.length === 0) return yield* Effect.fail(alreadyExists(target))
            yield* sql`INSERT INTO data_harness_commits (tenant, session_id, seq, at, steps)
              SELECT tenant, ${target.id}, seq, at, steps FROM data_harness_commits
              WHERE tenant = ${key.tenant} AND session_id = ${key.id}`
            if (blobs !== undefined) {
              // the new row is ours until the transaction ends: nobody else can use this id's files
              yield* blobs.fork(key, target).pipe(Effect.tapError(() => blobs.remove(target)))
            }
            return (yield* loadIn(target, "")).session
          })
        )
      )
    })

  const commit: SessionStore.Service["commit"] = (key, steps, options) =>
    withKey(key, () => {
      const list = stepsOf(steps)
      if (list.length === 0) return Effect.fail(fail("InvalidInput", "A commit needs at least one step.", key))
      return Effect.flatMap(encodeSteps(list, key), (text) =>
        transaction(
          key,
          Effect.gen(function* () {
            const row = yield* sessionRow(key, "FOR UPDATE")
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
            yield* sql`INSERT INTO data_harness_commits (tenant, session_id, seq, at, steps)
              VALUES (${key.tenant}, ${key.id}, ${seq}, ${now}, ${text})`
            yield* sql`UPDATE data_harness_sessions SET seq = ${seq}, tail = ${encodeTail(tail)}, updated_at = ${now}
              WHERE tenant = ${key.tenant} AND id = ${key.id}`
            return seq
          })
        )
      )
    })

  // events

  interface AskRow {
    readonly last_event_id: number
    readonly ended: string | null
    readonly started_at: bigint | number
    readonly ask_id: string
  }

  const askRow = (key: SessionStore.SessionKey, askId: string, lock: "" | "FOR UPDATE") =>
    Effect.map(
      sql<AskRow>`SELECT ask_id, last_event_id, ended, started_at FROM data_harness_asks
        WHERE tenant = ${key.tenant} AND session_id = ${key.id} AND ask_id = ${askId} ${sql.literal(lock)}`,
      (rows) => rows[0]
    )

  /** The session row locked for sharing (so it is not deleted meanwhile), or `NotFound`. */
  const requireSession = (key: SessionStore.SessionKey) =>
    Effect.flatMap(sessionRow(key, "FOR SHARE"), (row) =>
      row === undefined ? Effect.fail(notFound(key)) : Effect.void
    )

  /** Starts an ask's log, dropping the oldest beyond the retention. */
  const startAsk = (key: SessionStore.SessionKey, askId: string) =>
    Effect.gen(function* () {
      yield* sql`DELETE FROM data_harness_asks WHERE tenant = ${key.tenant} AND session_id = ${key.id}
        AND ask_id IN (SELECT ask_id FROM data_harness_asks WHERE tenant = ${key.tenant} AND session_id = ${key.id}
          ORDER BY started_at DESC, ask_id DESC OFFSET ${asksPerSession - 1})`
      yield* sql`INSERT INTO data_harness_asks (tenant, session_id, ask_id, started_at, last_event_id)
        VALUES (${key.tenant}, ${key.id}, ${askId}, ${Date.now()}, 0)`
      return { last_event_id: 0, ended: null, started_at: 0, ask_id: askId } satisfies AskRow
    })

  const appendEvents: SessionStore.Service["appendEvents"] = (key, askId, events) =>
    withKey(
      key,
      () =>
        Effect.gen(function* () {
          const texts: Array<string> = []
          for (const event of events) {
            const encoded = yield* Schema.encodeUnknownEffect(Schema.Json)(event).pipe(
              Effect.mapError((error) => fail("InvalidInput", `An event cannot be stored: ${error.message}`, key))
            )
            texts.push(JSON.stringify(encoded))
          }
          return yield* transaction(
            key,
            Effect.gen(function* () {
              yield* sql`SET LOCAL synchronous_commit = off`
              yield* requireSession(key)
              const ask = (yield* askRow(key, askId, "FOR UPDATE")) ?? (yield* startAsk(key, askId))
              if (ask.ended !== null) {
                return yield* Effect.fail(
                  fail("InvalidInput", `Ask "${askId}" has ended: start a new ask with a new id.`, key)
                )
              }
              const first = ask.last_event_id + 1
              if (texts.length > 0) {
                const rows = texts.map((event, i) => ({
                  tenant: key.tenant,
                  session_id: key.id,
                  ask_id: askId,
                  id: first + i,
                  event
                }))
                yield* sql`INSERT INTO data_harness_events ${sql.insert(rows as unknown as Arr.NonEmptyReadonlyArray<(typeof rows)[0]>)}`
                yield* sql`UPDATE data_harness_asks SET last_event_id = ${first + texts.length - 1}
                  WHERE tenant = ${key.tenant} AND session_id = ${key.id} AND ask_id = ${askId}`
              }
              return first + texts.length - 1
            })
          )
        }),
      askId
    )

  const endAsk: SessionStore.Service["endAsk"] = (key, askId, end) =>
    withKey(
      key,
      () =>
        Effect.flatMap(encodeAskEnd(end, key), (text) =>
          transaction(
            key,
            Effect.gen(function* () {
              yield* requireSession(key)
              const ask = (yield* askRow(key, askId, "FOR UPDATE")) ?? (yield* startAsk(key, askId))
              if (ask.ended !== null) return
              yield* sql`UPDATE data_harness_asks SET ended = ${text}
                WHERE tenant = ${key.tenant} AND session_id = ${key.id} AND ask_id = ${askId}`
            })
          )
        ),
      askId
    )

  const decodeEnd = (text: string | null, key: SessionStore.SessionKey) =>
    text === null
      ? Effect.succeed(undefined)
      : Effect.flatMap(parseJson(text, "the end of an ask", key), (json) =>
          Schema.decodeUnknownEffect(AskEnd)(json).pipe(
            Effect.mapError(() => fail("Corrupt", `The stored end of an ask of "${key.id}" does not decode.`, key))
          )
        )

  const readEvents: SessionStore.Service["readEvents"] = (key, askId, options) =>
    withKey(
      key,
      () =>
        transaction(
          key,
          Effect.gen(function* () {
            yield* requireSession(key)
            const ask = yield* askRow(key, askId, "")
            if (ask === undefined) return yield* Effect.fail(askNotFound(key, askId))
            const rows = yield* sql<{ id: number; event: string }>`SELECT id, event FROM data_harness_events
              WHERE tenant = ${key.tenant} AND session_id = ${key.id} AND ask_id = ${askId}
                AND id > ${options?.after ?? 0} ORDER BY id`
            const events: Array<SessionStore.StoredEvent> = []
            for (const row of rows) {
              events.push({ id: row.id, event: (yield* parseJson(row.event, `event ${row.id}`, key)) as Schema.Json })
            }
            const end = yield* decodeEnd(ask.ended, key)
            return { askId, events, ...(end !== undefined ? { end } : {}) }
          })
        ),
      askId
    )

  const asks: SessionStore.Service["asks"] = (key) =>
    withKey(key, () =>
      transaction(
        key,
        Effect.gen(function* () {
          yield* requireSession(key)
          const rows = yield* sql<AskRow>`SELECT ask_id, last_event_id, ended, started_at FROM data_harness_asks
            WHERE tenant = ${key.tenant} AND session_id = ${key.id} ORDER BY started_at, ask_id`
          const infos: Array<SessionStore.AskInfo> = []
          for (const row of rows) {
            const end = yield* decodeEnd(row.ended, key)
            infos.push({
              askId: row.ask_id,
              startedAt: Number(row.started_at),
              lastEventId: row.last_event_id,
              ...(end !== undefined ? { end } : {})
            })
          }
          return infos
        })
      )
    )

  // data

  const importData: SessionStore.Service["importData"] = (key, file, options) =>
    withKey(key, () =>
      Effect.gen(function* () {
        const data = yield* requireBlobs(key)
        yield* transaction(key, requireSession(key))
        return yield* data.importFile(key, file, { format: options?.format ?? "parquet", move: options?.move ?? false })
      })
    )

  const dataPath: SessionStore.Service["dataPath"] = (key, ref) =>
    withKey(key, () =>
      Effect.gen(function* () {
        const data = yield* requireBlobs(key)
        yield* transaction(key, requireSession(key))
        return yield* data.path(key, ref)
      })
    )

  const service: SessionStore.Service = {
    create,
    load,
    list,
    delete: remove,
    fork,
    commit,
    appendEvents,
    endAsk,
    readEvents,
    asks,
    importData,
    dataPath
  }
  return service
})
