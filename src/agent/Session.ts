/**
 * A conversation with an agent, held in `Ref`s: its messages, its usage totals, its visible tools
 * and its data handles.
 *
 * Asks on one session are serialised: two concurrent asks produce two whole, well-ordered
 * exchanges. The history a session sends is always valid for the provider (roles alternate, and
 * every `tool_use` is answered by exactly one `tool_result` before the next model call), also
 * after a failure, a timeout or an interruption.
 *
 * @example
 * ```ts
 * const session = yield* agent.session()
 * yield* session.put("sales", rows)
 * const answer = yield* session.ask("What is the total revenue?")
 * ```
 * @since 0.1.0
 */
import { Duration, Effect, Option, Ref, Semaphore, Stream } from "effect"
import type { DataError, HarnessError } from "../core/HarnessError.js"
import { InvalidOptions, MaxTurnsExceeded, Partial } from "../core/HarnessError.js"
import type * as Message from "../core/Message.js"
import type { RunResult } from "../core/RunResult.js"
import type * as StreamEvent from "../core/StreamEvent.js"
import * as Usage from "../core/Usage.js"
import * as Data from "../data/Data.js"
import * as Loop from "./loop.js"

// models

/**
 * Per-phase time limits (see `HarnessError.TimeoutPhase`). Unset phases have no limit.
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
 * A session.
 * @since 0.1.0
 */
export interface Session {
  /** Asks and returns the final text. Fails with `MaxTurnsExceeded` when the turn limit is hit. */
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
  /** Releases the session's embedded database; the session stays usable (it reopens on demand). */
  readonly close: Effect.Effect<void>
}

// constructors

const DURATION_FORMS = 'a Duration, milliseconds as a number, or a string like "30 seconds" or "5 minutes"'

/**
 * A non-negative `Duration.Input` as a Duration, or the `InvalidOptions` that says why it is not one.
 * @internal
 */
export const resolveDuration = (option: string, value: unknown): Duration.Duration | InvalidOptions => {
  const invalid = (why: string) =>
    new InvalidOptions({ option, message: `${option} is ${why}; expected ${DURATION_FORMS}.` })
  if (typeof value === "number" && Number.isNaN(value)) return invalid("NaN")
  // Effect reads parts leniently ({ hours: "two" } and {} are 0 ms, [NaN, 0] too): they must be
  // finite numbers (an unset part of an object is fine); an infinite limit is "Infinity"
  if (Array.isArray(value)) {
    if (value.length !== 2 || !value.every(Number.isFinite)) return invalid(`not a duration (${describe(value)})`)
  } else if (typeof value === "object" && value !== null && !Duration.isDuration(value)) {
    const parts = Object.entries(value).filter(([, amount]) => amount !== undefined)
    const bad = parts.find(([unit, amount]) => !durationUnits.has(unit) || !Number.isFinite(amount))
    if (parts.length === 0 || bad !== undefined) {
      return invalid(
        `not a duration (${bad === undefined ? "an object with no parts" : `${bad[0]}: ${describe(bad[1])}`})`
      )
    }
  }
  const duration = Duration.fromInput(value as Duration.Input)
  if (Option.isNone(duration) || Number.isNaN(Duration.toMillis(duration.value))) {
    return invalid(`not a duration (${describe(value)})`)
  }
  if (Duration.isNegative(duration.value)) return invalid(`negative (${describe(value)})`)
  return duration.value
}

/** The parts of a `Duration.DurationObject`. */
const durationUnits: ReadonlySet<string> = new Set([
  "weeks",
  "days",
  "hours",
  "minutes",
  "seconds",
  "milliseconds",
  "microseconds",
  "nanoseconds"
] satisfies ReadonlyArray<keyof Duration.DurationObject>)

const describe = (value: unknown): string => {
  if (typeof value === "string") return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}...` : value)
  if (Array.isArray(value)) return `[${value.map(String).join(", ")}]`
  if (typeof value === "object" && value !== null) return "an object"
  return String(value)
}

/**
 * Timeouts as Durations, unset phases left out; the first invalid one as `InvalidOptions`.
 * @internal
 */
export const resolveTimeouts = (timeouts: Timeouts | undefined): Loop.Timeouts | InvalidOptions => {
  const out: Record<string, Duration.Duration> = {}
  if (timeouts === undefined) return out
  if (typeof timeouts !== "object" || timeouts === null) {
    return new InvalidOptions({
      option: "timeouts",
      message: `timeouts must be an object of per-phase limits (${phases.join(", ")}), not ${describe(timeouts)}.`
    })
  }
  for (const [phase, value] of Object.entries(timeouts)) {
    if (value === undefined) continue
    if (!phases.includes(phase)) {
      return new InvalidOptions({
        option: `timeouts.${phase}`,
        message: `timeouts.${phase} is not a timeout phase; the phases are ${phases.join(", ")}.`
      })
    }
    const duration = resolveDuration(`timeouts.${phase}`, value)
    if (duration instanceof InvalidOptions) return duration
    out[phase] = duration
  }
  return out
}

const phases: ReadonlyArray<string> = ["request", "firstEvent", "idle", "tool", "turn", "run"] satisfies ReadonlyArray<
  keyof Timeouts
>

/** The state of a new session, optionally continuing a saved history. */
const makeState = (
  config: Loop.Config,
  options?: { readonly history?: Message.History | undefined; readonly data?: Data.Store | undefined }
): Effect.Effect<Loop.State> =>
  Effect.sync(() => {
    // the data store is made on first use: an ask that never touches its data (most streaming
    // asks) does not pay for the store, its lock and its closures
    let data = options?.data
    return {
      history: Ref.makeUnsafe<Message.History>(Loop.repairHistory(options?.history ?? [])),
      usage: Ref.makeUnsafe(Usage.empty),
      visible: Ref.makeUnsafe(Loop.initiallyVisible(config.tools)),
      get data(): Data.Store {
        data ??= Data.makeStoreUnsafe()
        return data
      }
    }
  })

/** The configuration of one ask: the agent's, with the ask's own timeouts over it. */
const configFor = (config: Loop.Config, options: AskOptions | undefined): Loop.Config | InvalidOptions => {
  if (options?.timeouts === undefined) return config
  const timeouts = resolveTimeouts(options.timeouts)
  return timeouts instanceof InvalidOptions ? timeouts : { ...config, timeouts: { ...config.timeouts, ...timeouts } }
}

/** One ask with its own options; invalid ones fail it before it starts, so nothing is added to the session. */
const askWith = (
  config: Loop.Config,
  options: AskOptions | undefined,
  state: Loop.State | Effect.Effect<Loop.State>,
  prompt: string,
  onResult: ((result: RunResult) => void) | undefined,
  askOptions: Loop.AskOptions
): Stream.Stream<StreamEvent.StreamEvent, HarnessError> => {
  const asked = configFor(config, options)
  return asked instanceof InvalidOptions ? Stream.fail(asked) : Loop.ask(asked, state, prompt, onResult, askOptions)
}

const maxTurnsError = (config: Loop.Config, result: RunResult) =>
  new MaxTurnsExceeded({
    maxTurns: config.maxTurns,
    message:
      `The model still wanted tools after ${config.maxTurns} turns (the maxTurns limit). ` +
      `Raise maxTurns, or narrow the question; the history holds every turn so far.`,
    partial: new Partial({ text: result.text, content: [], usage: result.usage })
  })

/**
 * One ask in a new session, streamed (`agent.runStream`): the same as `askStream` on a fresh
 * session, without the session object or its lock (nobody else can ask in it), and without a
 * stream stage to make them.
 * @internal
 */
export const streamOnce = (
  config: Loop.Config,
  prompt: string,
  options?: AskOptions
): Stream.Stream<StreamEvent.StreamEvent, HarnessError> =>
  askWith(config, options, makeState(config), prompt, undefined, {
    onMaxTurns: (result) => maxTurnsError(config, result)
  })

/**
 * Builds a session over a loop configuration (used by `Agent.session`).
 * @internal
 */
export const make = Effect.fnUntraced(function* (
  config: Loop.Config,
  options?: { readonly history?: Message.History | undefined; readonly data?: Data.Store | undefined }
) {
  const semaphore = yield* Semaphore.make(1)
  const state = yield* makeState(config, options)

  // interruptible: an ask waiting its turn can be interrupted or timed out while it waits
  const turn = Effect.acquireRelease(semaphore.take(1), () => semaphore.release(1), { interruptible: true })

  const events = (
    prompt: string,
    options: AskOptions | undefined,
    onResult: ((result: RunResult) => void) | undefined,
    onMaxTurns?: (result: RunResult) => MaxTurnsExceeded
  ): Stream.Stream<StreamEvent.StreamEvent, HarnessError> =>
    askWith(config, options, state, prompt, onResult, { acquire: Effect.asVoid(turn), onMaxTurns })

  const askResult = (prompt: string, options?: AskOptions) =>
    Effect.suspend(() => {
      let result: RunResult | undefined
      return Stream.runDrain(events(prompt, options, (r) => (result = r))).pipe(Effect.map(() => result!))
    })

  const session: Session = {
    askResult,
    ask: (prompt, options) =>
      Effect.flatMap(askResult(prompt, options), (result) =>
        result.status === "max_turns" ? Effect.fail(maxTurnsError(config, result)) : Effect.succeed(result.text)
      ),
    askStream: (prompt, options) => events(prompt, options, undefined, (result) => maxTurnsError(config, result)),
    history: Ref.get(state.history),
    usage: Ref.get(state.usage),
    put: (name, value, options) => state.data.put(name, value, options),
    putFile: (name, path, options) => state.data.putFile(name, path, options),
    handles: state.data.list,
    data: state.data,
    close: state.data.close
  }
  return session
})
