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

export const makeAskLogs = (
  backend: Backend,
  options: {
    readonly asksPerSession: number
    /** Serializes the operations on one session. */
    readonly lock: (key: SessionStore.SessionKey) => <A, E, R>(effect: Effect.Effect<A, E, R>) => Effect.Effect<A, E, R>
    /** Fails with `NotFound` unless the session exists. */
    readonly requireSession: (key: SessionStore.SessionKey) => Effect.Effect<void, StoreError>
    readonly sessionKey: (key: SessionStore.SessionKey) => string
  }
): Pick<SessionStore.Service, "appendEvents" | "endAsk" | "readEvents" | "asks"> => {
  const { asksPerSession, lock, requireSession } = options
  const askIds = new Lru<{ lastId: number; ended: boolean }>(10_000)

  const askKey = (key: SessionStore.SessionKey, askId: string) => `${options.sessionKey(key)}\u0000${askId}`

  /** The ask's state from its log; `undefined` when it has none. */
  const readAsk = (key: SessionStore.SessionKey, askId: string) =>
    Effect.gen(function* () {
      const lines = yield* backend.readAsk(key, askId)
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
      askIds.set(askKey(key, askId), { lastId: lastEventId, ended: end !== undefined })
      return { startedAt, end, events, lastEventId }
    })

  /** An ask's last event id and whether it ended: cached, or read from its log; `undefined` when it has none. */
  const askState = (key: SessionStore.SessionKey, askId: string) =>
    Effect.suspend(() => {
      const cached = askIds.get(askKey(key, askId))
      if (cached !== undefined) return Effect.succeed(cached)
      return Effect.map(readAsk(key, askId), (ask) =>
        ask === undefined ? undefined : { lastId: ask.lastEventId, ended: ask.end !== undefined }
      )
    })

  /** Starts an ask's log, dropping the oldest ones beyond the retention. */
  const startAsk = (key: SessionStore.SessionKey, askId: string) =>
    Effect.gen(function* () {
      const existing = yield* backend.listAsks(key)
      if (existing.length >= asksPerSession) {
        const started: Array<{ askId: string; startedAt: number }> = []
        for (const id of existing) {
          const ask = yield* readAsk(key, id)
          if (ask !== undefined) started.push({ askId: id, startedAt: ask.startedAt })
        }
        started.sort((a, b) => a.startedAt - b.startedAt)
        for (const old of started.slice(0, started.length - asksPerSession + 1)) {
          yield* backend.removeAsk(key, old.askId)
          askIds.delete(askKey(key, old.askId))
        }
      }
      const header = JSON.stringify({ askId, startedAt: Date.now() })
      yield* backend.appendAsk(key, askId, [header], true)
      const state = { lastId: 0, ended: false }
      askIds.set(askKey(key, askId), state)
      return state
    })

  const appendEvents: SessionStore.Service["appendEvents"] = (key, askId, events) =>
    withKey(
      key,
      () =>
        lock(key)(
          Effect.gen(function* () {
            yield* requireSession(key)
            const state = (yield* askState(key, askId)) ?? (yield* startAsk(key, askId))
            if (state.ended) {
              return yield* Effect.fail(
                fail("InvalidInput", `Ask "${askId}" has ended: start a new ask with a new id.`, key)
              )
            }
            const lines: Array<string> = []
            let id = state.lastId
            for (const event of events) lines.push(yield* encodeEvent({ id: ++id, event }))
            if (lines.length > 0) yield* backend.appendAsk(key, askId, lines, false)
            askIds.set(askKey(key, askId), { lastId: id, ended: false })
            return id
          })
        ),
      askId
    )

  const endAsk: SessionStore.Service["endAsk"] = (key, askId, end) =>
    withKey(
      key,
      () =>
        lock(key)(
          Effect.gen(function* () {
            yield* requireSession(key)
            const state = (yield* askState(key, askId)) ?? (yield* startAsk(key, askId))
            if (state.ended) return
            yield* backend.appendAsk(key, askId, [yield* encodeEnd({ end })], true)
            askIds.set(askKey(key, askId), { lastId: state.lastId, ended: true })
          })
        ),
      askId
    )

  const readEvents: SessionStore.Service["readEvents"] = (key, askId, options) =>
    withKey(
      key,
      () =>
        lock(key)(
          Effect.gen(function* () {
            yield* requireSession(key)
            const ask = yield* readAsk(key, askId)
            if (ask === undefined) return yield* Effect.fail(askNotFound(key, askId))
            const after = options?.after ?? 0
            return {
              askId,
              events: ask.events.filter((event) => event.id > after),
              ...(ask.end !== undefined ? { end: ask.end } : {})
            }
          })
        ),
      askId
    )

  const asks: SessionStore.Service["asks"] = (key) =>
    withKey(key, () =>
      lock(key)(
        Effect.gen(function* () {
          yield* requireSession(key)
          const infos: Array<SessionStore.AskInfo> = []
          for (const askId of yield* backend.listAsks(key)) {
            const ask = yield* readAsk(key, askId)
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
    )

  return { appendEvents, endAsk, readEvents, asks }
}
