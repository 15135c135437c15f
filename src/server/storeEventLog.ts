/**
 * The event log kept in a `SessionStore`, so a client resumes a stream with `Last-Event-ID` after
 * the server restarted.
 *
 * A stream is a server session's (`tenant/id`, see `EventLog.sessionStream`); each of its asks
 * is one event log of the store (`appendEvents`, then `endAsk` at its `ask_end`). The store
 * numbers an ask's events from 1; the stream numbers them across asks. So the store's ask id
 * carries the stream id before the ask's first event: `b<base>-<ask id>` (events outside an ask
 * go to `b<base>-log`), and an event's stream id is `base` plus its id in the ask. After a
 * restart the stream's bounds come from the store's list of asks, without reading any event.
 *
 * The newest entries are held in memory too (live readers are woken from there); older ones are
 * read from the store one ask at a time. An append is written to the store before the next one;
 * a store that fails to take it is logged and the entry stays in memory (live readers get it; a
 * reader after a restart does not).
 *
 * @internal
 */
import { Effect, type Schema, Semaphore } from "effect"
import { toJsonValue } from "../core/jsonValue.js"
import type { SessionStore } from "../index.js"
import type { EventsExpired } from "./eventLogErrors.js"
import type { Bounds, Entry, Service } from "./eventLogService.js"
import { expiredAt, MemoryStream, subscribeTo } from "./memoryStream.js"
import type * as ServerEvent from "./ServerEvent.js"

/** One ask of a stream as the store keeps it: its store ask id and the stream ids of its events. */
interface Range {
  readonly askId: string
  readonly base: number
  last: number
  ended: boolean
}

/** A stream: its memory, its asks in the store (oldest first), and the one being appended. */
interface Stored {
  readonly key: SessionStore.SessionKey
  readonly memory: MemoryStream
  readonly ranges: Array<Range>
  current: Range | undefined
  readonly lock: Semaphore.Semaphore
}

const ASK_ID = /^b(\d+)-(.+)$/

/** The session key of a stream name made by `sessionStream`. */
const keyOf = (stream: string): SessionStore.SessionKey => {
  const at = stream.lastIndexOf("/")
  return at < 0 ? { tenant: "default", id: stream } : { tenant: stream.slice(0, at), id: stream.slice(at + 1) }
}

/** How an ask's `ask_end` reads as the store's end of an ask. */
const endOf = (event: ServerEvent.AskEnd): SessionStore.AskEnd => ({
  status: event.status === "failed" ? "failed" : event.status === "interrupted" ? "interrupted" : "completed",
  ...(event.error !== undefined ? { error: event.error } : {})
})

/**
 * An event log over a session store.
 * @internal
 */
export const makeStoreLog = (
  store: SessionStore.Service,
  options?: { readonly capacity?: number | undefined }
): Service => {
  const log: StoreLog = {
    store,
    capacity: Math.max(1, Math.floor(options?.capacity ?? 1_000)),
    streams: new Map(),
    loading: Semaphore.makeUnsafe(1)
  }
  return {
    append: (name, events) => append(log, name, events),
    read: (name, after) => read(log, name, after),
    subscribe: (name, after) =>
      subscribeTo(
        Effect.map(streamOf(log, name), (stream) => stream.memory),
        after,
        (memory, cursor) =>
          Effect.flatMap(streamOf(log, name), (stream) =>
            stream.memory === memory ? older(store, stream, cursor) : Effect.succeed([])
          )
      ),
    bounds: (name) =>
      Effect.map(
        streamOf(log, name),
        (stream): Bounds => ({
          first: (stream.ranges[0]?.base ?? stream.memory.first - 1) + 1,
          last: stream.memory.last
        })
      ),
    openAsk: (name) => Effect.map(streamOf(log, name), (stream) => stream.memory.open),
    remove: (name) =>
      Effect.sync(() => {
        const stream = log.streams.get(name)
        if (stream === undefined) return
        log.streams.delete(name)
        stream.memory.removed = true
        stream.memory.wake()
      })
  }
}

/** What the log's operations share: the store, the memory's capacity, and the streams read so far. */
interface StoreLog {
  readonly store: SessionStore.Service
  readonly capacity: number
  readonly streams: Map<string, Stored>
  /** Serializes the first reads of streams from the store. */
  readonly loading: Semaphore.Semaphore
}

/** The stream, read from the store the first time (its asks listed; none when it has no session yet). */
const streamOf = (log: StoreLog, name: string): Effect.Effect<Stored> =>
  Effect.suspend(() => {
    const known = log.streams.get(name)
    if (known !== undefined) return Effect.succeed(known)
    return log.loading.withPermit(
      Effect.suspend(() => {
        const again = log.streams.get(name)
        if (again !== undefined) return Effect.succeed(again)
        const key = keyOf(name)
        return log.store.asks(key).pipe(
          Effect.catchTag("StoreError", (error) =>
            error.reason === "NotFound" || error.reason === "InvalidInput" ? Effect.succeed([]) : Effect.die(error)
          ),
          Effect.map((asks) => {
            const stored = storedOf(key, asks, log.capacity)
            log.streams.set(name, stored)
            return stored
          })
        )
      })
    )
  })

/** A stream as the store's list of its asks describes it: their ranges, and the one still open. */
const storedOf = (
  key: SessionStore.SessionKey,
  asks: ReadonlyArray<SessionStore.AskInfo>,
  capacity: number
): Stored => {
  const ranges: Array<Range> = []
  for (const ask of asks) {
    const parsed = ASK_ID.exec(ask.askId)
    if (parsed === null) continue
    const base = Number(parsed[1])
    ranges.push({ askId: ask.askId, base, last: base + ask.lastEventId, ended: ask.end !== undefined })
  }
  const last = ranges.reduce((max, range) => Math.max(max, range.last), 0)
  const memory = new MemoryStream(capacity, last)
  const open = ranges.at(-1)
  const current = open !== undefined && !open.ended ? open : undefined
  const openAsk = current === undefined ? undefined : ASK_ID.exec(current.askId)![2]
  if (openAsk !== undefined && openAsk !== "log") memory.open = openAsk
  return { key, memory, ranges, current, lock: Semaphore.makeUnsafe(1) }
}

/** Appends `events` to the stream `name`: in memory, then to the store; the last id. */
const append = (log: StoreLog, name: string, events: ReadonlyArray<ServerEvent.ServerEvent>) =>
  Effect.flatMap(streamOf(log, name), (stream) =>
    stream.lock.withPermit(
      Effect.suspend(() => {
        const before = stream.memory.last
        const last = stream.memory.append(events)
        const entries = events.map((event, i): Entry => ({ id: before + i + 1, event }))
        return Effect.as(write(log.store, stream, entries), last)
      })
    )
  )

/** Writes appended entries to the store, ask by ask; a failure is logged, not raised. */
const write = (store: SessionStore.Service, stream: Stored, entries: ReadonlyArray<Entry>) =>
  Effect.gen(function* () {
    let batch: Array<Entry> = []
    const flush = Effect.suspend(() => {
      const range = stream.current
      const events = batch
      batch = []
      if (range === undefined || events.length === 0) return Effect.void
      const json = events.map((entry) => entry.event as unknown as Schema.Json)
      return store.appendEvents(stream.key, range.askId, json).pipe(
        // an event holding a value that is not JSON (an `undefined` field): stored as JSON makes it
        Effect.catchTag("StoreError", (error) =>
          error.reason === "InvalidInput"
            ? store.appendEvents(stream.key, range.askId, toJsonValue(json) as ReadonlyArray<Schema.Json>)
            : Effect.fail(error)
        ),
        Effect.asVoid
      )
    })
    for (const entry of entries) {
      const event = entry.event
      if (event.type === "ask_start" || stream.current === undefined || stream.current.ended) {
        yield* flush
        const askId = `b${entry.id - 1}-${event.type === "ask_start" ? event.ask_id : "log"}`
        stream.current = { askId, base: entry.id - 1, last: entry.id - 1, ended: false }
        stream.ranges.push(stream.current)
      }
      batch.push(entry)
      stream.current.last = entry.id
      if (event.type === "ask_end") {
        yield* flush
        stream.current.ended = true
        yield* store.endAsk(stream.key, stream.current.askId, endOf(event))
      }
    }
    yield* flush
  }).pipe(
    Effect.catchTag("StoreError", (error) =>
      Effect.logWarning("The event log could not write to the session store; the events stay in memory only", error)
    )
  )

/** Entries after `after` read from the store, up to the oldest in memory: one ask's at a time. */
const older = (
  store: SessionStore.Service,
  stream: Stored,
  after: number
): Effect.Effect<ReadonlyArray<Entry>, EventsExpired> =>
  Effect.suspend(() => {
    const index = stream.ranges.findIndex((range) => range.last > after)
    const range = stream.ranges[index]
    const oldest = stream.ranges[0]?.base ?? stream.memory.first - 1
    if (range === undefined || after < oldest) {
      return Effect.fail(expiredAt(after, oldest + 1))
    }
    const upTo = stream.memory.first - 1
    return store.readEvents(stream.key, range.askId, { after: Math.max(0, after - range.base) }).pipe(
      Effect.map((page) =>
        page.events
          .map((stored): Entry => ({ id: range.base + stored.id, event: stored.event as ServerEvent.ServerEvent }))
          .filter((entry) => entry.id > after && entry.id <= upTo)
      ),
      Effect.flatMap((entries) => {
        if (entries.length > 0) return Effect.succeed(entries)
        // the ask's events were not all stored (a failed write): go on after it, or, when the
        // gap reaches what memory holds, say where the kept entries start again
        return range.last < upTo ? older(store, stream, range.last) : Effect.fail(expiredAt(after, upTo + 1))
      }),
      Effect.catchTag("StoreError", (error) => {
        if (error.reason !== "NotFound") return Effect.die(error)
        // dropped by the store's retention: everything before the next kept ask is gone
        stream.ranges.splice(0, index + 1)
        return Effect.fail(expiredAt(after, (stream.ranges[0]?.base ?? upTo) + 1))
      })
    )
  })

/** Entries after `after`: from memory, else from the store up to memory, then from memory. */
const read = (log: StoreLog, name: string, after: number): Effect.Effect<ReadonlyArray<Entry>, EventsExpired> =>
  Effect.flatMap(streamOf(log, name), (stream) => {
    const held = stream.memory.after(after)
    if (held !== undefined) return Effect.succeed(held)
    return Effect.gen(function* () {
      const out: Array<Entry> = []
      let cursor = after
      while (stream.memory.after(cursor) === undefined) {
        const page = yield* older(log.store, stream, cursor)
        if (page.length === 0) break
        out.push(...page)
        cursor = page[page.length - 1]!.id
      }
      return [...out, ...(stream.memory.after(cursor) ?? [])]
    })
  })
