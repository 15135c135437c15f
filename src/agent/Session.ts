/**
 * A conversation with an agent, held in `Ref`s: its messages, its usage totals, its visible tools
 * and its data handles.
 *
 * A session is a scoped resource: `agent.session()` needs a `Scope`, and when the scope closes
 * (on success, failure or interruption) the session's data store and its embedded database are
 * released. `agent.withSession(f)` gives one for the length of `f`.
 *
 * Asks on one session are serialised: two concurrent asks produce two whole, well-ordered
 * exchanges. The history a session sends is always valid for the provider (roles alternate, no
 * text block is empty or whitespace-only, and every `tool_use` is answered by exactly one
 * `tool_result` before the next model call), also after a failure, a timeout or an interruption.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 *
 * const program = Effect.scoped(
 *   Effect.gen(function*() {
 *     const session = yield* agent.session()
 *     yield* session.put("sales", rows)
 *     return yield* session.ask("What is the total revenue?")
 *   })
 * ) // the session's database is closed here
 * ```
 * @since 0.1.0
 */
import type { Duration, Effect, Stream } from "effect"
import type { DataError, HarnessError } from "../core/HarnessError.js"
import type * as Message from "../core/Message.js"
import type { RunResult } from "../core/RunResult.js"
import type * as StreamEvent from "../core/StreamEvent.js"
import type * as Usage from "../core/Usage.js"
import type * as Data from "../data/Data.js"

/**
 * Per-phase time limits (see `HarnessError.TimeoutPhase`), each a `Duration.Input` (`"30 seconds"`,
 * milliseconds, a `Duration`). Defaults: `request` 5 minutes (until the response headers),
 * `firstEvent` 10 minutes (from the request to the first event), `idle` 5 minutes (between two
 * events); `tool`, `turn` and `run` unset (no limit). `"Infinity"` turns a default off.
 * @since 0.1.0
 */
export interface Timeouts {
  readonly request?: Duration.Input | undefined
  readonly firstEvent?: Duration.Input | undefined
  readonly idle?: Duration.Input | undefined
  readonly tool?: Duration.Input | undefined
  readonly turn?: Duration.Input | undefined
  readonly run?: Duration.Input | undefined
}

/**
 * Options of one ask, overriding the agent's.
 * @since 0.1.0
 */
export interface AskOptions {
  readonly timeouts?: Timeouts | undefined
}

/**
 * A session: ask in it, read its history and usage, put data into it.
 *
 * @example
 * ```ts
 * const answer = yield* session.ask("What is the total revenue?")
 * const history = yield* session.history
 * ```
 * @since 0.1.0
 */
export interface Session {
  /**
   * Asks and returns the final text. Fails with `MaxTurnsExceeded` when the turn limit is hit,
   * and with `InvalidOptions` (before anything is added) for an empty or whitespace-only prompt.
   */
  readonly ask: (prompt: string, options?: AskOptions) => Effect.Effect<string, HarnessError>
  /** Asks and returns the whole result; a turn limit is `status: "max_turns"`, not a failure. */
  readonly askResult: (prompt: string, options?: AskOptions) => Effect.Effect<RunResult, HarnessError>
  /**
   * Asks and streams every event. Ends after the final `message_stop`; fails with
   * `MaxTurnsExceeded` after the last event when the turn limit is hit.
   */
  readonly askStream: (prompt: string, options?: AskOptions) => Stream.Stream<StreamEvent.StreamEvent, HarnessError>
  /** The conversation so far. */
  readonly history: Effect.Effect<Message.History>
  /** Usage summed over every ask of the session. */
  readonly usage: Effect.Effect<Usage.Usage>
  /** Stores a value under a handle name; returns the name it got. */
  readonly put: (name: string, value: unknown, options?: Data.PutOptions) => Effect.Effect<string, DataError>
  /** Stores a file (CSV, Parquet, JSON) by path; the data stays in the file. Returns the handle name. */
  readonly putFile: (name: string, path: string, options?: Data.PutFileOptions) => Effect.Effect<string, DataError>
  /** The session's data handles. */
  readonly handles: Effect.Effect<ReadonlyArray<Data.Handle>>
  /** The handle store itself, for tools and extensions. */
  readonly data: Data.Store
  /**
   * Releases the session's embedded database now, before its scope closes; the session stays
   * usable (the database reopens on demand, and is released again with the scope).
   */
  readonly close: Effect.Effect<void>
}
