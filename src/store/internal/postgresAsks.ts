/**
 * The event logs of asks on Postgres: `data_harness_asks` (one row per ask: last event id, end)
 * and `data_harness_events` (one row per event). Appends run with `synchronous_commit = off`.
 */
import { Effect, Schema } from "effect"
import type * as Arr from "effect/Array"
import type { SqlClient, SqlError } from "effect/sql"
import { AskEnd, type StoredEvent } from "../Step.js"
import type { StoreError } from "../StoreError.js"
import type * as SessionStore from "../service.js"
import { askNotFound, encodeJson, fail, withKey } from "./errors.js"
import { parseJson } from "./records.js"

const encodeAskEnd = encodeJson(AskEnd, "The end of the ask")

/** What the Postgres ask logs need of the store they belong to. */
export interface PgAskLogOptions {
  readonly asksPerSession: number
  readonly transaction: <A>(
    key: SessionStore.SessionKey | undefined,
    effect: Effect.Effect<A, StoreError | SqlError.SqlError>
  ) => Effect.Effect<A, StoreError>
  /** Locks the session row for sharing (so it is not deleted meanwhile), or fails with `NotFound`. */
  readonly requireSession: (key: SessionStore.SessionKey) => Effect.Effect<void, StoreError | SqlError.SqlError>
}

/** What the ask log operations share: the client and the store's options. */
interface PgAskLogs extends PgAskLogOptions {
  readonly sql: SqlClient.SqlClient
}

/** The ask log operations of the Postgres store over `sql`. */
export const makeAskLogs = (
  sql: SqlClient.SqlClient,
  options: PgAskLogOptions
): Pick<SessionStore.Service, "appendEvents" | "endAsk" | "readEvents" | "asks"> => {
  const logs: PgAskLogs = { ...options, sql }
  return { appendEvents: appendEvents(logs), endAsk: endAsk(logs), readEvents: readEvents(logs), asks: asks(logs) }
}

/** A row of `data_harness_asks`. */
interface AskRow {
  readonly last_event_id: number
  readonly ended: string | null
  readonly started_at: bigint | number
  readonly ask_id: string
}

/** The row of the ask `askId`, locked as `lock` says. */
const askRow = (logs: PgAskLogs, key: SessionStore.SessionKey, askId: string, lock: "" | "FOR UPDATE") =>
  Effect.map(
    logs.sql<AskRow>`SELECT ask_id, last_event_id, ended, started_at FROM data_harness_asks
      WHERE tenant = ${key.tenant} AND session_id = ${key.id} AND ask_id = ${askId} ${logs.sql.literal(lock)}`,
    (rows) => rows[0]
  )

/** Starts an ask's log, dropping the oldest beyond the retention. */
const startAsk = (logs: PgAskLogs, key: SessionStore.SessionKey, askId: string) =>
  Effect.gen(function* () {
    yield* logs.sql`DELETE FROM data_harness_asks WHERE tenant = ${key.tenant} AND session_id = ${key.id}
      AND ask_id IN (SELECT ask_id FROM data_harness_asks WHERE tenant = ${key.tenant} AND session_id = ${key.id}
        ORDER BY started_at DESC, ask_id DESC OFFSET ${logs.asksPerSession - 1})`
    yield* logs.sql`INSERT INTO data_harness_asks (tenant, session_id, ask_id, started_at, last_event_id)
      VALUES (${key.tenant}, ${key.id}, ${askId}, ${Date.now()}, 0)`
    return { last_event_id: 0, ended: null, started_at: 0, ask_id: askId } satisfies AskRow
  })

const appendEvents =
  (logs: PgAskLogs): SessionStore.Service["appendEvents"] =>
  (key, askId, events) =>
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
          return yield* logs.transaction(
            key,
            Effect.gen(function* () {
              yield* logs.sql`SET LOCAL synchronous_commit = off`
              yield* logs.requireSession(key)
              const ask = (yield* askRow(logs, key, askId, "FOR UPDATE")) ?? (yield* startAsk(logs, key, askId))
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
                yield* logs.sql`INSERT INTO data_harness_events ${logs.sql.insert(rows as unknown as Arr.NonEmptyReadonlyArray<(typeof rows)[0]>)}`
                yield* logs.sql`UPDATE data_harness_asks SET last_event_id = ${first + texts.length - 1}
                  WHERE tenant = ${key.tenant} AND session_id = ${key.id} AND ask_id = ${askId}`
              }
              return first + texts.length - 1
            })
          )
        }),
      askId
    )

const endAsk =
  (logs: PgAskLogs): SessionStore.Service["endAsk"] =>
  (key, askId, end) =>
    withKey(
      key,
      () =>
        Effect.flatMap(encodeAskEnd(end, key), (text) =>
          logs.transaction(
            key,
            Effect.gen(function* () {
              yield* logs.requireSession(key)
              const ask = (yield* askRow(logs, key, askId, "FOR UPDATE")) ?? (yield* startAsk(logs, key, askId))
              if (ask.ended !== null) return
              yield* logs.sql`UPDATE data_harness_asks SET ended = ${text}
                WHERE tenant = ${key.tenant} AND session_id = ${key.id} AND ask_id = ${askId}`
            })
          )
        ),
      askId
    )

/** The stored end of an ask, decoded. */
const decodeEnd = (text: string | null, key: SessionStore.SessionKey) =>
  text === null
    ? Effect.succeed(undefined)
    : Effect.flatMap(parseJson(text, "the end of an ask", key), (json) =>
        Schema.decodeUnknownEffect(AskEnd)(json).pipe(
          Effect.mapError(() => fail("Corrupt", `The stored end of an ask of "${key.id}" does not decode.`, key))
        )
      )

const readEvents =
  (logs: PgAskLogs): SessionStore.Service["readEvents"] =>
  (key, askId, options) =>
    withKey(
      key,
      () =>
        logs.transaction(
          key,
          Effect.gen(function* () {
            yield* logs.requireSession(key)
            const ask = yield* askRow(logs, key, askId, "")
            if (ask === undefined) return yield* Effect.fail(askNotFound(key, askId))
            const rows = yield* logs.sql<{ id: number; event: string }>`SELECT id, event FROM data_harness_events
              WHERE tenant = ${key.tenant} AND session_id = ${key.id} AND ask_id = ${askId}
                AND id > ${options?.after ?? 0} ORDER BY id`
            const events: Array<StoredEvent> = []
            for (const row of rows) {
              events.push({ id: row.id, event: (yield* parseJson(row.event, `event ${row.id}`, key)) as Schema.Json })
            }
            const end = yield* decodeEnd(ask.ended, key)
            return { askId, events, ...(end !== undefined ? { end } : {}) }
          })
        ),
      askId
    )

const asks =
  (logs: PgAskLogs): SessionStore.Service["asks"] =>
  (key) =>
    withKey(key, () =>
      logs.transaction(
        key,
        Effect.gen(function* () {
          yield* logs.requireSession(key)
          const rows = yield* logs.sql<AskRow>`SELECT ask_id, last_event_id, ended, started_at FROM data_harness_asks
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
