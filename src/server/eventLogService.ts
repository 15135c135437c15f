/**
 * The event log's contract: the shape every log implements ({@link Service}) and the entries it
 * holds. It lives apart from `EventLog.ts` so that the logs it builds (`memoryStream.ts`,
 * `storeEventLog.ts`) can name these types without importing it; `EventLog.ts` re-exports them
 * unchanged.
 * @since 0.2.0
 */
import type { Effect, Stream } from "effect"
import type { EventsExpired } from "./eventLogErrors.js"
import type * as ServerEvent from "./ServerEvent.js"

/**
 * One logged event and its id.
 * @since 0.2.0
 */
export interface Entry {
  readonly id: number
  readonly event: ServerEvent.ServerEvent
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
  /**
   * The ask whose `ask_start` is in the stream and whose `ask_end` is not: the ask running now,
   * or, read back from a store after a restart, one whose process stopped before it ended.
   */
  readonly openAsk: (stream: string) => Effect.Effect<string | undefined>
  /** Drops a stream; its subscribers end. */
  readonly remove: (stream: string) => Effect.Effect<void>
}
