/**
 * The event logs of asks over a log backend: numbered appends, an end record, reads from an id,
 * and retention (the last `asksPerSession` asks of each session). Each ask's last id is cached,
 * so an append costs one write.
 */
import { Effect, type Schema } from "effect"
import type { AskEnd } from "../Step.js"
import type { StoreError } from "../StoreError.js"
import type * as SessionStore from "../service.js"
import type { Backend } from "./backend.js"
import { askNotFound, fail, withKey } from "./errors.js"
import { Lru } from "./lru.js"
import { decodeAskLine, encodeEnd, encodeEvent, parseJson } from "./records.js"

/** What the ask logs need of the store they belong to. */
export interface AskLogOptions {
  readonly asksPerSession: number
  /** Serializes the operations on one session. */
  readonly lock: (key: SessionStore.SessionKey) => <A, E, R>(effect: Effect.Effect<A, E, R>) => Effect.Effect<A, E, R>
  /** Fails with `NotFound` unless the session exists. */
  readonly requireSession: (key: SessionStore.SessionKey) => Effect.Effect<void, StoreError>
  readonly sessionKey: (key: SessionStore.SessionKey) => string
}

/** What the ask log operations share: the backend, the store's options and each ask's cached state. */
interface AskLogs extends AskLogOptions {
  readonly backend: Backend
  readonly askIds: Lru<{ lastId: number; ended: boolean }>
}

/** The ask log operations of a store over `backend`. */
export const makeAskLogs = (
  backend: Backend,
  options: AskLogOptions
): Pick<SessionStore.Service, "appendEvents" | "endAsk" | "readEvents" | "asks"> => {
  const logs: AskLogs = { ...options, backend, askIds: new Lru(10_000) }
  return { appendEvents: appendEvents(logs), endAsk: endAsk(logs), readEvents: readEvents(logs), asks: asks(logs) }
}

/** The cache key of an ask. */
const askKey = (logs: AskLogs, key: SessionStore.SessionKey, askId: string) => `${logs.sessionKey(key)}\u0000${askId}`

/** The ask's state from its log; `undefined` when it has none. */
const readAsk = (logs: AskLogs, key: SessionStore.SessionKey, askId: string) =>
  Effect.gen(function* () {
    const lines = yield* logs.backend.readAsk(key, askId)
    if (lines === undefined) return undefined
    const at = (i: number) => `ask ${askId} of ${key.id} line ${i + 1}`
    let startedAt = 0
    let end: AskEnd | undefined
    const events: Array<{ readonly id: number; readonly event: Schema.Json }> = []
    for (let i = 0; i < lines.length; i++) {
      const record = yield* decodeAskLine(yield* parseJson(lines[i]!, at(i), key), at(i), key)
      if ("startedAt" in record) startedAt = record.startedAt
      else if ("end" in record) end = record.end
      else events.push(record)
    }
    const lastEventId = events.length === 0 ? 0 : events[events.length - 1]!.id
    logs.askIds.set(askKey(logs, key, askId), { lastId: lastEventId, ended: end !== undefined })
    return { startedAt, end, events, lastEventId }
  })

/** An ask's last event id and whether it ended: cached, or read from its log; `undefined` when it has none. */
const askState = (logs: AskLogs, key: SessionStore.SessionKey, askId: string) =>
  Effect.suspend(() => {
    const cached = logs.askIds.get(askKey(logs, key, askId))
    if (cached !== undefined) return Effect.succeed(cached)
    return Effect.map(readAsk(logs, key, askId), (ask) =>
      ask === undefined ? undefined : { lastId: ask.lastEventId, ended: ask.end !== undefined }
    )
  })

/** Starts an ask's log, dropping the oldest ones beyond the retention. */
const startAsk = (logs: AskLogs, key: SessionStore.SessionKey, askId: string) =>
  Effect.gen(function* () {
    const existing = yield* logs.backend.listAsks(key)
    if (existing.length >= logs.asksPerSession) {
      const started: Array<{ askId: string; startedAt: number }> = []
      for (const id of existing) {
        const ask = yield* readAsk(logs, key, id)
        if (ask !== undefined) started.push({ askId: id, startedAt: ask.startedAt })
      }
      started.sort((a, b) => a.startedAt - b.startedAt)
      for (const old of started.slice(0, started.length - logs.asksPerSession + 1)) {
        yield* logs.backend.removeAsk(key, old.askId)
        logs.askIds.delete(askKey(logs, key, old.askId))
      }
    }
    const header = JSON.stringify({ askId, startedAt: Date.now() })
    yield* logs.backend.appendAsk(key, askId, [header], true)
    const state = { lastId: 0, ended: false }
    logs.askIds.set(askKey(logs, key, askId), state)
    return state
  })

/**
 * `body` on an existing session: the key (and ask id) checked, under the session's lock, after
 * the session is found.
 */
const onSession = <A>(
  logs: AskLogs,
  key: SessionStore.SessionKey,
  body: () => Effect.Effect<A, StoreError>,
  askId?: string
): Effect.Effect<A, StoreError> =>
  withKey(key, () => logs.lock(key)(Effect.andThen(logs.requireSession(key), Effect.suspend(body))), askId)

const appendEvents =
  (logs: AskLogs): SessionStore.Service["appendEvents"] =>
  (key, askId, events) =>
    onSession(
      logs,
      key,
      () =>
        Effect.gen(function* () {
          const state = (yield* askState(logs, key, askId)) ?? (yield* startAsk(logs, key, askId))
          if (state.ended) {
            return yield* Effect.fail(
              fail("InvalidInput", `Ask "${askId}" has ended: start a new ask with a new id.`, key)
            )
          }
          const lines: Array<string> = []
          let id = state.lastId
          for (const event of events) lines.push(yield* encodeEvent({ id: ++id, event }))
          if (lines.length > 0) yield* logs.backend.appendAsk(key, askId, lines, false)
          logs.askIds.set(askKey(logs, key, askId), { lastId: id, ended: false })
          return id
        }),
      askId
    )

const endAsk =
  (logs: AskLogs): SessionStore.Service["endAsk"] =>
  (key, askId, end) =>
    onSession(
      logs,
      key,
      () =>
        Effect.gen(function* () {
          const state = (yield* askState(logs, key, askId)) ?? (yield* startAsk(logs, key, askId))
          if (state.ended) return
          yield* logs.backend.appendAsk(key, askId, [yield* encodeEnd({ end })], true)
          logs.askIds.set(askKey(logs, key, askId), { lastId: state.lastId, ended: true })
        }),
      askId
    )

const readEvents =
  (logs: AskLogs): SessionStore.Service["readEvents"] =>
  (key, askId, options) =>
    onSession(
      logs,
      key,
      () =>
        Effect.gen(function* () {
          const ask = yield* readAsk(logs, key, askId)
          if (ask === undefined) return yield* Effect.fail(askNotFound(key, askId))
          const after = options?.after ?? 0
          return {
            askId,
            events: ask.events.filter((event) => event.id > after),
            ...(ask.end !== undefined ? { end: ask.end } : {})
          }
        }),
      askId
    )

const asks =
  (logs: AskLogs): SessionStore.Service["asks"] =>
  (key) =>
    onSession(logs, key, () =>
      Effect.gen(function* () {
        const infos: Array<SessionStore.AskInfo> = []
        for (const askId of yield* logs.backend.listAsks(key)) {
          const ask = yield* readAsk(logs, key, askId)
          if (ask === undefined) continue
          infos.push({
            askId,
            startedAt: ask.startedAt,
            lastEventId: ask.lastEventId,
            ...(ask.end !== undefined ? { end: ask.end } : {})
          })
        }
        return infos.sort((a, b) => a.startedAt - b.startedAt)
      })
    )
