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
import { Cause, Context, Effect, Layer, Schema, Stream } from "effect"
import type * as ServerEvent from "./ServerEvent.js"

// models

/**
 * One logged event and its id.
 * @since 0.2.0
 */
export interface Entry {
  readonly id: number
  readonly event: ServerEvent.ServerEvent
}

/**
 * The entries a client asked for are no longer kept: the log keeps the newest entries only.
 * `oldest` is the id of the oldest one still kept.
 * @since 0.2.0
 */
export class EventsExpired extends Schema.TaggedError<EventsExpired>()(
  "EventsExpired",
  { message: Schema.String, after: Schema.Number, oldest: Schema.Number },
  { httpApiStatus: 410 }
) {
  /** Never retryable: the events are gone; read the session's history instead. */
  get isRetryable(): boolean {
    return false
  }
}

/**
 * The ids a stream holds: `first` is the oldest kept (`last + 1` when it holds none), `last` the
 * newest ever appended (0 before the first).
 * @since 0.2.0
 */
export interface Bounds {
  readonly first: number
  readonly last: number
}

/**
 * The event log service.
 * @since 0.2.0
 */
export interface Service {
  /** Appends events to a stream; returns the id of the last one. */
  readonly append: (stream: string, events: ReadonlyArray<ServerEvent.ServerEvent>) => Effect.Effect<number>
  /** The kept entries after id `after`. */
  readonly read: (stream: string, after: number) => Effect.Effect<ReadonlyArray<Entry>, EventsExpired>
  /**
   * The entries after id `after`, then every entry appended later, as they are appended. Ends
   * when the stream is removed; fails with `EventsExpired` when `after` is older than what is
   * kept (also when a slow reader falls that far behind).
   */
  readonly subscribe: (stream: string, after: number) => Stream.Stream<Entry, EventsExpired>
  readonly bounds: (stream: string) => Effect.Effect<Bounds>
  /** Drops a stream; its subscribers end. */
  readonly remove: (stream: string) => Effect.Effect<void>
}

/**
 * The event log.
 * @since 0.2.0
 */
export class EventLog extends Context.Service<EventLog, Service>()("data-harness/server/EventLog") {}

// memory

/** One stream held in memory: a ring of its newest entries and the readers waiting for more. */
class MemoryStream {
  private readonly ring: Array<Entry | undefined>
  private start = 0
  private size = 0
  private nextId = 1
  private readonly waiters = new Set<() => void>()
  removed = false

  constructor(readonly capacity: number) {
    this.ring = new Array(capacity)
  }

  get first(): number {
    return this.nextId - this.size
  }

  get last(): number {
    return this.nextId - 1
  }

  append(events: ReadonlyArray<ServerEvent.ServerEvent>): number {
    for (const event of events) {
      const entry = { id: this.nextId++, event }
      if (this.size < this.capacity) {
        this.ring[(this.start + this.size++) % this.capacity] = entry
      } else {
        this.ring[this.start] = entry
        this.start = (this.start + 1) % this.capacity
      }
    }
    this.wake()
    return this.last
  }

  /** The entries after `after`, or `undefined` when some of them were dropped. */
  after(after: number): ReadonlyArray<Entry> | undefined {
    const first = this.first
    if (after < first - 1) return undefined
    const out: Array<Entry> = []
    for (let id = Math.max(after + 1, first); id <= this.last; id++) {
      out.push(this.ring[(this.start + id - first) % this.capacity]!)
    }
    return out
  }

  /** Resumes once something is appended or the stream is removed. */
  readonly wait: Effect.Effect<void> = Effect.callback<void>((resume) => {
    const waiter = () => resume(Effect.void)
    this.waiters.add(waiter)
    return Effect.sync(() => this.waiters.delete(waiter))
  })

  wake(): void {
    if (this.waiters.size === 0) return
    const waiting = [...this.waiters]
    this.waiters.clear()
    for (const waiter of waiting) waiter()
  }
}

const expired = (stream: MemoryStream, after: number) =>
  new EventsExpired({
    after,
    oldest: stream.first,
    message:
      `The events after id ${after} are no longer kept (the oldest kept is ${stream.first}). ` +
      `Read the session's history, or resume from a newer id.`
  })

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
    Stream.fromPull(
      Effect.sync(() => {
        const stream = streamOf(key)
        let cursor = after
        const pull: Effect.Effect<readonly [Entry, ...Array<Entry>], EventsExpired | Cause.Done> = Effect.suspend(
          () => {
            const entries = stream.after(cursor)
            if (entries === undefined) return Effect.fail(expired(stream, cursor))
            if (entries.length > 0) {
              cursor = entries[entries.length - 1]!.id
              return Effect.succeed(entries as readonly [Entry, ...Array<Entry>])
            }
            return stream.removed ? Cause.done() : Effect.andThen(stream.wait, pull)
          }
        )
        return pull
      })
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
