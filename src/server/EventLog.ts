/**
 * The bounded, resumable log of a server session's events.
 *
 * Each session writes its asks' events to a log stream of its own (keyed by the session id).
 * Every entry gets an id, increasing by one from 1 within its stream, that the server sends as
 * the SSE `id:`; a client that lost its connection asks again with `Last-Event-ID` and
 * {@link Service.subscribe} gives it exactly the entries after that id, then the live ones. A
 * stream keeps its newest `capacity` entries; asking for older ones fails with
 * {@link EventsExpired}.
 *
 * The log is a service so that a durable store can back it (the same ids survive a restart);
 * {@link layerMemory} keeps it in memory.
 *
 * @example
 * ```ts
 * import { Effect, Stream } from "effect"
 * import { EventLog } from "data-harness/server"
 * const program = Effect.gen(function*() {
 *   const log = yield* EventLog.EventLog
 *   yield* log.append("s1", [{ type: "message_stop" }])
 *   return yield* log.subscribe("s1", 0).pipe(Stream.take(1), Stream.runCollect)
 * }).pipe(Effect.provide(EventLog.layerMemory()))
 * ```
 * @since 0.2.0
 */
import { Context, Effect, Layer, type Stream } from "effect"
import { SessionStore } from "../index.js"
import type { EventsExpired } from "./eventLogErrors.js"

export type { Bounds, Entry, Service } from "./eventLogService.js"

import type { Entry, Service } from "./eventLogService.js"
import { expiredAt, MemoryStream, subscribeTo } from "./memoryStream.js"
import { makeStoreLog } from "./storeEventLog.js"

// models

export {
  /**
   * The entries a client asked for are no longer kept: the log keeps the newest entries only.
   * `oldest` is the id of the oldest one still kept.
   * @since 0.2.0
   */
  EventsExpired
} from "./eventLogErrors.js"

/**
 * The stream of a server session: `tenant/id` (a session id has no `/`, so the last one splits
 * it). The store-backed log ({@link layerStore}) keeps each such stream with its session.
 * @since 0.2.0
 */
export const sessionStream = (tenant: string, id: string): string => `${tenant}/${id}`

/**
 * The event log.
 * @since 0.2.0
 */
export class EventLog extends Context.Service<EventLog, Service>()("data-harness/server/EventLog") {}

// memory

const expired = (stream: MemoryStream, after: number) => expiredAt(after, stream.first)

/**
 * An event log held in memory, keeping the newest `capacity` entries of each stream (default
 * 10,000).
 * @since 0.2.0
 */
export const makeMemory = (options?: { readonly capacity?: number | undefined }): Service => {
  const capacity = Math.max(1, Math.floor(options?.capacity ?? 10_000))
  const streams = new Map<string, MemoryStream>()
  const streamOf = (key: string): MemoryStream => {
    let stream = streams.get(key)
    if (stream === undefined) {
      stream = new MemoryStream(capacity)
      streams.set(key, stream)
    }
    return stream
  }

  const subscribe = (key: string, after: number): Stream.Stream<Entry, EventsExpired> =>
    subscribeTo(
      Effect.sync(() => streamOf(key)),
      after,
      (stream, cursor) => Effect.fail(expired(stream, cursor))
    )

  return {
    append: (key, events) => Effect.sync(() => streamOf(key).append(events)),
    read: (key, after) =>
      Effect.suspend(() => {
        const stream = streamOf(key)
        const entries = stream.after(after)
        return entries === undefined ? Effect.fail(expired(stream, after)) : Effect.succeed(entries)
      }),
    subscribe,
    openAsk: (key) => Effect.sync(() => streams.get(key)?.open),
    bounds: (key) =>
      Effect.sync(() => {
        const stream = streams.get(key)
        return stream === undefined ? { first: 1, last: 0 } : { first: stream.first, last: stream.last }
      }),
    remove: (key) =>
      Effect.sync(() => {
        const stream = streams.get(key)
        if (stream === undefined) return
        streams.delete(key)
        stream.removed = true
        stream.wake()
      })
  }
}

/**
 * The in-memory event log as a layer.
 * @since 0.2.0
 */
export const layerMemory = (options?: { readonly capacity?: number | undefined }): Layer.Layer<EventLog> =>
  Layer.sync(EventLog, () => makeMemory(options))

/**
 * The event log kept in the `SessionStore` in context: each stream is a server session's
 * ({@link sessionStream}), each of its asks one event log of the store, so a client resumes with
 * `Last-Event-ID` after the server restarted (the store keeps the newest `asksPerSession` asks
 * of each session). The newest `capacity` entries of each stream (default 1,000) are also held
 * in memory, where live readers are woken.
 *
 * @example
 * ```ts
 * import { Layer } from "effect"
 * import { SessionStore } from "data-harness"
 * import { EventLog } from "data-harness/server"
 * const log = EventLog.layerStore().pipe(Layer.provide(SessionStore.layerFileSystem({ directory: "./sessions" })))
 * ```
 * @since 0.2.0
 */
export const layerStore = (options?: {
  readonly capacity?: number | undefined
}): Layer.Layer<EventLog, never, SessionStore.SessionStore> =>
  Layer.effect(
    EventLog,
    Effect.map(Effect.service(SessionStore.SessionStore), (store) => makeStoreLog(store, options))
  )
