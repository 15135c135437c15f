/**
 * An agent: a system prompt, tools and limits over a `Provider`, run as a loop of model turns and
 * tool calls until the model ends its turn.
 *
 * `run`, `runResult` and `runStream` each ask in a fresh session, released (its database closed)
 * when the run ends. `session()` gives a session that keeps its conversation and data across
 * asks: a resource of the caller's `Scope`, released when the scope closes; `withSession(f)`
 * scopes one to `f`.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Agent, Anthropic } from "data-harness"
 *
 * const program = Effect.gen(function*() {
 *   const agent = yield* Agent.make({ system: "You are a data analyst.", maxTurns: 25 })
 *   return yield* agent.withSession((session) =>
 *     Effect.gen(function*() {
 *       yield* session.put("sales", [{ region: "EU", revenue: 120 }, { region: "US", revenue: 80 }])
 *       return yield* session.ask("What is the total revenue?")
 *     })
 *   )
 * }).pipe(Effect.provide(Anthropic.layerConfig()))
 * ```
 * @since 0.1.0
 */
import { type Duration, Effect, Option, Schedule, type Schema, type Scope, type Stream } from "effect"
import type * as Budget from "../control/Budget.js"
import type * as Compaction from "../control/Compaction.js"
import { type AgentControl, resolveControl } from "../control/control.js"
import type * as Hooks from "../control/Hooks.js"
import * as Pricing from "../control/Pricing.js"
import type * as Tokens from "../control/Tokens.js"
import type * as Cost from "../core/Cost.js"
import { type HarnessError, InvalidOptions } from "../core/HarnessError.js"
import type * as Message from "../core/Message.js"
import { resolveDuration } from "../core/options.js"
import { StoreError } from "../core/StoreError.js"
import type * as StreamEvent from "../core/StreamEvent.js"
import type * as Data from "../data/Data.js"
import { Provider, type Service as ProviderService } from "../provider/Provider.js"
import * as SessionStore from "../store/SessionStore.js"
import * as DataTools from "../tools/DataTools.js"
import * as Tool from "../tools/Tool.js"
import * as Variables from "../tools/Variables.js"
import * as Answer from "./Answer.js"
import { type Config, defaultTimeouts, positiveInteger, resolveTimeouts, withTypedAnswer } from "./config.js"
import * as OpenSession from "./openSession.js"
import { resolveParams } from "./params.js"
import type * as Session from "./Session.js"
import { findSession } from "./storedSessions.js"

export type {
  /**
   * A schema a typed answer can have.
   * @since 0.2.0
   */
  AnswerSchema
} from "./Answer.js"
export {
  /**
   * The run failed because the model's answer did not match the answer schema (or never came).
   * @since 0.2.0
   */
  InvalidAnswer,
  /**
   * A Standard Schema with the JSON Schema to send for it.
   * @since 0.2.0
   */
  withJsonSchema
} from "./Answer.js"

/**
 * The built-in `answer` tool: the model gives the run's structured result with it
 * (`RunResult.value`). Added to every agent unless `builtinTools: false`.
 * @since 0.2.0
 */
export const answer: Tool.Tool = Answer.answer

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
export interface Options<R, S extends Answer.AnswerSchema | undefined = undefined, RH = never>
  extends Session.ModelOptions {
  /** The system prompt; byte-stable across turns (reminders go at the end of the conversation). */
  readonly system?: string | undefined
  readonly tools?: ReadonlyArray<Tool.Tool<R>> | undefined
  /** Model turns per ask (default 25). The last one carries a reminder to answer now. */
  readonly maxTurns?: number | undefined
  /**
   * A typed answer: the {@link answer} tool takes this schema (an Effect Schema, or a Standard
   * Schema such as Zod's), the model's value is decoded with it, and `RunResult.value` has its
   * type. An answer that does not decode goes back to the model as an error result; so does a
   * run that ends without an answer (a reminder); after `answerRetries` of those the next fails
   * the run with {@link InvalidAnswer}. Added even with `builtinTools: false`.
   */
  readonly answer?: S
  /** How many refused (or missing) answers go back to the model before the next fails the run. Default 2. */
  readonly answerRetries?: number | undefined
  /** Add the built-in tools (`list_variables`, {@link answer}, and the data tools). Default true. */
  readonly builtinTools?: boolean | undefined
  /**
   * The data tools (default `DataTools.all`: `sql` and `javascript`); pass
   * `DataTools.make({ ... })` to change their limits, `[]` for none.
   */
  readonly dataTools?: ReadonlyArray<Tool.Tool> | undefined
  /** Mark requests for prompt caching (default true). */
  readonly cache?: boolean | undefined
  /**
   * Time limits per phase. Defaults: `request` 5 minutes, `firstEvent` 10 minutes, `idle`
   * 5 minutes; `tool`, `turn` and `run` unset.
   */
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
  /**
   * Hooks run before and after each model call and tool call and after each turn, in order (see
   * `Hooks`); their services (`RH`) are required like a tool handler's. An ask's own `hooks` run after.
   */
  readonly hooks?: ReadonlyArray<Hooks.Hooks<RH>> | Hooks.Hooks<RH> | undefined
  /** Limits on dollars, tokens, tool compute and wall time: per agent, session and ask (see `Budget`). */
  readonly budget?: Budget.Options | undefined
  /** Prices added over the `Pricing` table in context (by model id), for this agent's costs. */
  readonly prices?: Pricing.Table | undefined
  /**
   * Counts a request's input tokens before a model call (budgets and compaction); default
   * `Tokens.estimate`, a conservative local estimate. A failing count falls back to the estimate.
   */
  readonly countTokens?: Tokens.Counter | undefined
  /**
   * Compaction near the context window (see `Compaction`); on by default for models whose window
   * the `Pricing` table knows, `false` to turn it off (`session.compact()` still works).
   */
  readonly compaction?: Compaction.Options | false | undefined
  /**
   * Where sessions are kept: a session store, or `false` for none. Default: the
   * `SessionStore.SessionStore` in context when one is provided (e.g.
   * `SessionStore.layerFileSystem({ directory })`), else none. With a store, `agent.session()`
   * creates a stored session and `agent.session({ id })` resumes one; one-shot `run*` asks are
   * never stored.
   */
  readonly store?: SessionStore.Service | false | undefined
  /** The tenant the agent's stored sessions belong to (default `"default"`; per session: `SessionOptions.tenant`). */
  readonly tenant?: string | undefined
}

/**
 * An agent. `A` is the type of its answer (`unknown` unless `answer` gives a schema), `E` what
 * its runs fail with (with a typed answer, also `InvalidAnswer`).
 * @since 0.1.0
 */
export interface Agent<A = unknown, E = HarnessError> {
  /** Asks in a fresh session; the final text. */
  readonly run: {
    <S extends Answer.AnswerSchema>(
      prompt: Session.Prompt,
      options: Session.TypedAskOptions<S>
    ): Effect.Effect<string, E | Answer.InvalidAnswer>
    (prompt: Session.Prompt, options?: Session.AskOptions): Effect.Effect<string, E>
  }
  /** Asks in a fresh session; the whole result, its `value` typed by the answer schema. */
  readonly runResult: {
    <S extends Answer.AnswerSchema>(
      prompt: Session.Prompt,
      options: Session.TypedAskOptions<S>
    ): Effect.Effect<Session.Result<Answer.Type<S>>, E | Answer.InvalidAnswer>
    (prompt: Session.Prompt, options?: Session.AskOptions): Effect.Effect<Session.Result<A>, E>
  }
  /** Asks in a fresh session; every event as it happens. */
  readonly runStream: {
    <S extends Answer.AnswerSchema>(
      prompt: Session.Prompt,
      options: Session.TypedAskOptions<S>
    ): Stream.Stream<StreamEvent.StreamEvent, E | Answer.InvalidAnswer>
    (prompt: Session.Prompt, options?: Session.AskOptions): Stream.Stream<StreamEvent.StreamEvent, E>
  }
  /**
   * A new session, optionally continuing a saved history (e.g. from `Message.decodeHistory`; a
   * trailing `tool_use` without results is answered with a synthetic error result). The session
   * is a resource of the `Scope`: when the scope closes (on success, failure or interruption) its
   * data store and embedded database are released (using the session's data after that is a
   * defect). A `data` store you pass stays yours: it is used, never closed.
   *
   * With a session store (see `Options.store`) the session is kept there: `agent.session()`
   * creates one with a random id (`session.id`), `agent.session({ id })` resumes one (its
   * history, usage and handles; a table's rows stay in their Parquet file until SQL reads them),
   * `{ id, create: true }` creates one with that id and `{ id, create: "ifMissing" }` does either.
   * Store failures (`NotFound`, `AlreadyExists`, an unreachable database) are `StoreError`s.
   *
   * @example
   * ```ts
   * yield* Effect.scoped(Effect.gen(function*() {
   *   const session = yield* agent.session()
   *   return yield* session.ask("What is the total revenue?")
   * }))
   * // after a restart, with the same SessionStore layer:
   * const again = yield* agent.session({ id: savedId })
   * ```
   */
  readonly session: (options?: SessionOptions) => Effect.Effect<Session.Session<A, E>, StoreError, Scope.Scope>
  /**
   * Runs `f` with a new session, released when `f` ends: `Effect.scoped` over {@link Agent.session}.
   *
   * @example
   * ```ts
   * const answer = yield* agent.withSession((session) => session.ask("What is the total revenue?"))
   * ```
   */
  readonly withSession: <B, E2, R>(
    f: (session: Session.Session<A, E>) => Effect.Effect<B, E2, R>,
    options?: SessionOptions
  ) => Effect.Effect<B, E2 | StoreError, Exclude<R, Scope.Scope>>
  /** What every run and session of the agent spent together, as `budget.agent` counts it. */
  readonly spent: Effect.Effect<Cost.Spent>
  /**
   * The stored sessions of a tenant (the agent's by default), ordered by id; `after` (an id) and
   * `limit` page through them. Without a session store it fails with `StoreError` (`InvalidInput`).
   */
  readonly sessions: (options?: {
    readonly tenant?: string | undefined
    readonly after?: string | undefined
    readonly limit?: number | undefined
  }) => Effect.Effect<ReadonlyArray<SessionStore.SessionInfo>, StoreError>
  /** Deletes a stored session, its event logs and its data files (files a fork shares stay the fork's). */
  readonly deleteSession: (
    id: string,
    options?: { readonly tenant?: string | undefined }
  ) => Effect.Effect<void, StoreError>
}

/**
 * The agent {@link make} builds for an answer schema `S` (or none).
 * @since 0.2.0
 */
export type Typed<S> = S extends Answer.AnswerSchema
  ? Agent<Answer.Type<S>, HarnessError | Answer.InvalidAnswer>
  : Agent<unknown, HarnessError>

/**
 * Options of {@link Agent.session}: a saved history to continue, and a data store to use; with a
 * session store, which stored session.
 * @since 0.2.0
 */
export interface SessionOptions {
  /** A saved history to continue (a new session only). */
  readonly history?: Message.History | undefined
  /** A data store to use (yours: never closed); with a session store, one from `Data.makeStore`. */
  readonly data?: Data.Store | undefined
  /** This session's budget (all its asks), instead of the agent's `budget.session`. */
  readonly budget?: Budget.Limits | undefined
  /** With a session store: the session to resume (`NotFound` when there is none), or to create with `create`. */
  readonly id?: string | undefined
  /**
   * With `id`: `true` creates the session under that id (`AlreadyExists` when taken; without a
   * session store, an in-memory session with that id), `"ifMissing"` resumes or creates it.
   */
  readonly create?: boolean | "ifMissing" | undefined
  /** The tenant of the stored session (default: the agent's `tenant`). */
  readonly tenant?: string | undefined
  /** Metadata stored with a new session (a title, a user id), shown by `agent.sessions()`. */
  readonly metadata?: Schema.JsonObject | undefined
}

// constructors

/** The session store in context, if any. */
const storeInContext = Effect.map(Effect.serviceOption(SessionStore.SessionStore), Option.getOrUndefined)

/** A session: in memory, or found in (or created in) the agent's session store. */
const openSession = (
  config: Config,
  store: SessionStore.Service | undefined,
  tenant: string,
  from: SessionOptions | undefined
): Effect.Effect<Session.Session<unknown, Session.TypedError>, StoreError, Scope.Scope> => {
  if (store === undefined) {
    // without a store a session can be given its id, but not resumed by it
    if (from?.id !== undefined && from.create !== true) {
      return Effect.fail(
        new StoreError({
          reason: "InvalidInput",
          message: `Session "${from.id}" cannot be resumed: this agent keeps no sessions. Provide a SessionStore layer, or Agent.make({ store }).`
        })
      )
    }
    return OpenSession.open(config, from)
  }
  return Effect.flatMap(findSession(store, from?.tenant ?? tenant, from ?? {}), (found) =>
    OpenSession.openStored(config, store, found, from)
  )
}

/**
 * Builds an agent over the `Provider` in context. Tool handlers' services are captured here.
 * Fails with `InvalidOptions` when an option is not valid (a timeout that is not a duration, a
 * `maxTurns` below 1, a temperature that is not a number, a `toolChoice` naming a tool the agent
 * does not have, ...).
 * @since 0.1.0
 */
export const make = <R = never, S extends Answer.AnswerSchema | undefined = undefined, RH = never>(
  options: Options<R, S, RH> = {}
): Effect.Effect<Typed<S>, InvalidOptions, Provider | R | RH> =>
  Effect.gen(function* () {
    const provider = yield* Provider
    const context = yield* Effect.context<R | RH>()
    const builtins =
      options.builtinTools === false
        ? []
        : [Variables.listVariables, Answer.answer, ...(options.dataTools ?? DataTools.all)]
    const given = [...builtins, ...(options.tools ?? [])] as ReadonlyArray<Tool.Any>
    const tools = options.answer === undefined ? given : withTypedAnswer(given, options.answer, true)
    if (tools instanceof InvalidOptions) return yield* tools
    const invalidTool = Tool.validate(tools)
    if (invalidTool !== undefined) return yield* invalidTool
    const control = resolveControl(options, yield* Effect.service(Pricing.Pricing))
    if (control instanceof InvalidOptions) return yield* control
    const config = configOf(options, provider, context, tools, control)
    if (config instanceof InvalidOptions) return yield* config
    const store = options.store === false ? undefined : (options.store ?? (yield* storeInContext))
    const tenant = options.tenant ?? "default"
    const session = (from?: SessionOptions) => openSession(config, store, tenant, from)
    const noStore = Effect.fail(
      new StoreError({
        reason: "InvalidInput",
        message: "This agent keeps no sessions: provide a SessionStore layer, or Agent.make({ store })."
      })
    )
    const agent: Agent<unknown, Session.TypedError> = {
      session,
      withSession: (f, from) => Effect.scoped(Effect.flatMap(session(from), f)),
      sessions: (list) =>
        store === undefined
          ? noStore
          : store.list(list?.tenant ?? tenant, {
              ...(list?.after !== undefined ? { after: list.after } : {}),
              ...(list?.limit !== undefined ? { limit: list.limit } : {})
            }),
      deleteSession: (id, where) =>
        store === undefined ? noStore : store.delete({ tenant: where?.tenant ?? tenant, id }),
      run: (prompt: Session.Prompt, askOptions?: Session.AskOptions) => OpenSession.runOnce(config, prompt, askOptions),
      runResult: (prompt: Session.Prompt, askOptions?: Session.AskOptions) =>
        OpenSession.resultOnce(config, prompt, askOptions),
      runStream: (prompt: Session.Prompt, askOptions?: Session.AskOptions) =>
        OpenSession.streamOnce(config, prompt, askOptions),
      spent: Effect.sync(() => control.meter.spent())
    }
    // an agent without an answer schema fails with InvalidAnswer only in asks that give one
    return agent as unknown as Typed<S>
  })

/** The agent's options checked and resolved, or the first that is not valid. */
const configOf = <R, S extends Answer.AnswerSchema | undefined, RH>(
  options: Options<R, S, RH>,
  provider: ProviderService,
  context: Config["context"],
  tools: ReadonlyArray<Tool.Any>,
  control: AgentControl
): Config | InvalidOptions => {
  const retry = options.retry === false ? undefined : options.retry
  const given = resolveTimeouts(options.timeouts)
  if (given instanceof InvalidOptions) return given
  const maxRetryAfter = resolveDuration("retry.maxRetryAfter", retry?.maxRetryAfter ?? "60 seconds")
  if (maxRetryAfter instanceof InvalidOptions) return maxRetryAfter
  const maxTurns = positiveInteger("maxTurns", options.maxTurns ?? 25)
  if (maxTurns instanceof InvalidOptions) return maxTurns
  const params = resolveParams(options, new Set(tools.map((tool) => tool.name)))
  if (params instanceof InvalidOptions) return params
  const toolConcurrency = positiveInteger("toolConcurrency", options.toolConcurrency ?? 1)
  if (toolConcurrency instanceof InvalidOptions) return toolConcurrency
  const answerRetries = options.answerRetries ?? 2
  if (typeof answerRetries !== "number" || !Number.isInteger(answerRetries) || answerRetries < 0) {
    return new InvalidOptions({
      option: "answerRetries",
      message: `answerRetries must be a whole number of at least 0, not ${String(answerRetries)}.`
    })
  }
  return {
    provider,
    system: options.system,
    tools,
    context,
    maxTurns,
    params,
    typedAnswer: options.answer !== undefined,
    answerRetries,
    cache: options.cache ?? true,
    timeouts: { ...defaultTimeouts, ...given },
    retry: options.retry === false ? undefined : (retry?.schedule ?? defaultRetrySchedule),
    maxRetryAfter,
    partialTurn: options.partialTurn ?? "keep",
    toolConcurrency,
    control
  }
}
