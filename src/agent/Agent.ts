/**
 * An agent: a system prompt, tools and limits over a `Provider`, run as a loop of model turns and
 * tool calls until the model ends its turn.
 *
 * `run`, `runResult` and `runStream` each ask in a fresh session; `session()` gives a session that
 * keeps its conversation and data across asks.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Agent, Anthropic } from "data-harness"
 *
 * const program = Effect.gen(function*() {
 *   const agent = yield* Agent.make({ system: "You are a data analyst.", maxTurns: 25 })
 *   const session = yield* agent.session()
 *   yield* session.put("sales", [{ region: "EU", revenue: 120 }, { region: "US", revenue: 80 }])
 *   return yield* session.ask("What is the total revenue?")
 * }).pipe(Effect.provide(Anthropic.layerConfig()))
 * ```
 * @since 0.1.0
 */
import { Duration, Effect, Schedule, type Stream } from "effect"
import { type HarnessError, InvalidOptions } from "../core/HarnessError.js"
import type * as Message from "../core/Message.js"
import type { RunResult } from "../core/RunResult.js"
import type * as StreamEvent from "../core/StreamEvent.js"
import type * as Data from "../data/Data.js"
import { Provider } from "../provider/Provider.js"
import * as DataTools from "../tools/DataTools.js"
import type * as Tool from "../tools/Tool.js"
import * as Variables from "../tools/Variables.js"
import type * as Loop from "./loop.js"
import * as Session from "./Session.js"

// options

/**
 * How retries are done: a `Schedule` over the failing error (only errors that say they are
 * retryable reach it), or `false` for none. `maxRetryAfter` caps how long a server's
 * `retry-after` is honoured.
 * @since 0.1.0
 */
export interface RetryOptions {
  // biome-ignore lint/suspicious/noExplicitAny: any schedule whose input the errors satisfy
  readonly schedule?: Schedule.Schedule<unknown, any> | undefined
  readonly maxRetryAfter?: Duration.Input | undefined
}

/**
 * The default retry policy: exponential backoff from 500 ms with jitter, at most 4 retries and
 * 60 s of delays in all.
 * @since 0.1.0
 */
export const defaultRetrySchedule: Schedule.Schedule<unknown> = Schedule.exponential("500 millis").pipe(
  Schedule.jittered,
  Schedule.upTo({ times: 4, duration: "60 seconds" })
)

/**
 * Options of {@link make}.
 * @since 0.1.0
 */
export interface Options<R> {
  /** The system prompt; byte-stable across turns (reminders go at the end of the conversation). */
  readonly system?: string | undefined
  readonly tools?: ReadonlyArray<Tool.Tool<R>> | undefined
  /** Model turns per ask (default 25). The last one carries a reminder to answer now. */
  readonly maxTurns?: number | undefined
  /** Output limit per turn, overriding the provider's default. */
  readonly maxTokens?: number | undefined
  /** Add the built-in tools (`list_variables`, `answer`, and the data tools). Default true. */
  readonly builtinTools?: boolean | undefined
  /**
   * The data tools (default `DataTools.all`: `sql` and `javascript`); pass
   * `DataTools.make({ ... })` to change their limits, `[]` for none.
   */
  readonly dataTools?: ReadonlyArray<Tool.Tool> | undefined
  /** Mark requests for prompt caching (default true). */
  readonly cache?: boolean | undefined
  /** Time limits per phase; default: none but `idle` (5 minutes). */
  readonly timeouts?: Session.Timeouts | undefined
  /** Retry policy, or `false` for none. Default: {@link defaultRetrySchedule}, `retry-after` up to 60 s. */
  readonly retry?: RetryOptions | false | undefined
  /**
   * What an interrupted or failed ask keeps of the turn in progress: `"keep"` (default) its text
   * so far as an assistant message, `"discard"` nothing. Either way the partial output is on the
   * error, and an unanswered `tool_use` gets a synthetic error result.
   */
  readonly partialTurn?: "keep" | "discard" | undefined
  /** How many tool calls of one turn run at once (default 1: one at a time, in order). */
  readonly toolConcurrency?: number | undefined
}

/**
 * An agent.
 * @since 0.1.0
 */
export interface Agent {
  /** Asks in a fresh session; the final text. */
  readonly run: (prompt: string, options?: Session.AskOptions) => Effect.Effect<string, HarnessError>
  /** Asks in a fresh session; the whole result. */
  readonly runResult: (prompt: string, options?: Session.AskOptions) => Effect.Effect<RunResult, HarnessError>
  /** Asks in a fresh session; every event as it happens. */
  readonly runStream: (
    prompt: string,
    options?: Session.AskOptions
  ) => Stream.Stream<StreamEvent.StreamEvent, HarnessError>
  /**
   * A new session, optionally continuing a saved history (e.g. from `Message.decodeHistory`); a
   * trailing `tool_use` without results is answered with a synthetic error result.
   */
  readonly session: (options?: {
    readonly history?: Message.History | undefined
    readonly data?: Data.Store | undefined
  }) => Effect.Effect<Session.Session>
}

// constructors

/** `value` when it is a whole number of at least 1, or the `InvalidOptions` that says so. */
const positiveInteger = (option: string, value: number): number | InvalidOptions =>
  Number.isInteger(value) && value >= 1
    ? value
    : new InvalidOptions({ option, message: `${option} must be a whole number of at least 1, not ${String(value)}.` })

/**
 * Builds an agent over the `Provider` in context. Tool handlers' services are captured here.
 * Fails with `InvalidOptions` when an option is not valid (a timeout that is not a duration, a
 * `maxTurns` below 1, ...).
 * @since 0.1.0
 */
export const make = <R = never>(options: Options<R> = {}): Effect.Effect<Agent, InvalidOptions, Provider | R> =>
  Effect.gen(function* () {
    const provider = yield* Provider
    const context = yield* Effect.context<R>()
    const builtins =
      options.builtinTools === false
        ? []
        : [Variables.listVariables, Variables.answer, ...(options.dataTools ?? DataTools.all)]
    const tools = [...builtins, ...(options.tools ?? [])] as ReadonlyArray<Tool.Any>
    const retry = options.retry === false ? undefined : options.retry
    const given = Session.resolveTimeouts(options.timeouts)
    if (given instanceof InvalidOptions) return yield* given
    const timeouts: Loop.Timeouts = { idle: Duration.minutes(5), ...given }
    const maxRetryAfter = Session.resolveDuration("retry.maxRetryAfter", retry?.maxRetryAfter ?? "60 seconds")
    if (maxRetryAfter instanceof InvalidOptions) return yield* maxRetryAfter
    const maxTurns = positiveInteger("maxTurns", options.maxTurns ?? 25)
    if (maxTurns instanceof InvalidOptions) return yield* maxTurns
    const maxTokens = options.maxTokens === undefined ? undefined : positiveInteger("maxTokens", options.maxTokens)
    if (maxTokens instanceof InvalidOptions) return yield* maxTokens
    const toolConcurrency = positiveInteger("toolConcurrency", options.toolConcurrency ?? 1)
    if (toolConcurrency instanceof InvalidOptions) return yield* toolConcurrency
    const config: Loop.Config = {
      provider,
      system: options.system,
      tools,
      context,
      maxTurns,
      maxTokens,
      cache: options.cache ?? true,
      timeouts,
      retry: options.retry === false ? undefined : (retry?.schedule ?? defaultRetrySchedule),
      maxRetryAfter,
      partialTurn: options.partialTurn ?? "keep",
      toolConcurrency
    }
    const session: Agent["session"] = (sessionOptions) => Session.make(config, sessionOptions)
    return {
      session,
      run: (prompt, askOptions) => Effect.flatMap(session(), (s) => s.ask(prompt, askOptions)),
      runResult: (prompt, askOptions) => Effect.flatMap(session(), (s) => s.askResult(prompt, askOptions)),
      runStream: (prompt, askOptions) => Session.streamOnce(config, prompt, askOptions)
    }
  })
