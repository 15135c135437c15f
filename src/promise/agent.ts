/**
 * `createAgent` for code not written in Effect: an agent over one runtime of its own (a
 * `ManagedRuntime` holding the provider and its connections), with Promise and async-iterator
 * methods, sessions with `put`, `putFile`, `ask`, `stream`, `history`, and `close` (and
 * `await using`) that release everything.
 *
 * @internal
 */
import { Effect, Exit, Layer, ManagedRuntime, Schedule, Scope, Stream } from "effect"
import * as EffectAgent from "../agent/Agent.js"
import type { AnswerSchema, Type } from "../agent/Answer.js"
import type * as EffectSession from "../agent/Session.js"
import type * as Approval from "../control/Approval.js"
import { InvalidOptions } from "../core/HarnessError.js"
import type * as Message from "../core/Message.js"
import type * as StreamEvent from "../core/StreamEvent.js"
import type * as Data from "../data/Data.js"
import * as Provider from "../provider/Provider.js"
import type * as Tool from "../tools/Tool.js"
import { iterate, type Runtime, runPromise } from "./iterate.js"
import type { ModelProvider } from "./providers.js"
import { layerOf } from "./registry.js"
import type { AgentTool } from "./tools.js"

/**
 * A time limit: milliseconds, or a string such as `"30 seconds"` or `"5 minutes"`.
 * @since 0.2.0
 */
export type Duration = number | string

/**
 * Per-phase time limits (see the README's failure semantics). Defaults: `request` 5 minutes,
 * `firstEvent` 10 minutes, `idle` 5 minutes; `tool`, `turn`, `run` none. `"Infinity"` turns one off.
 * @since 0.2.0
 */
export interface Timeouts {
  readonly request?: Duration | undefined
  readonly firstEvent?: Duration | undefined
  readonly idle?: Duration | undefined
  readonly tool?: Duration | undefined
  readonly turn?: Duration | undefined
  readonly run?: Duration | undefined
}

/**
 * Options of {@link createAgent}; the model parameters are defaults that each ask overrides.
 * @since 0.2.0
 */
export interface AgentOptions<S extends AnswerSchema | undefined = undefined> extends EffectSession.ModelOptions {
  /** `anthropic({ ... })`, `openai({ ... })` or `mock({ turns })`. */
  readonly provider: ModelProvider
  readonly system?: string | undefined
  /** Tools made with `tool({ ... })`. */
  readonly tools?: ReadonlyArray<AgentTool> | undefined
  /** A schema (Zod, Valibot, Effect, any Standard Schema) for the typed answer (`result.value`). */
  readonly answer?: S
  /** How many refused (or missing) answers go back to the model before the next fails the run. Default 2. */
  readonly answerRetries?: number | undefined
  /** Model turns per ask (default 25). */
  readonly maxTurns?: number | undefined
  /** Add the built-in tools (`list_variables`, `answer`, `sql`, `javascript`). Default true. */
  readonly builtinTools?: boolean | undefined
  /** Mark requests for prompt caching (default true). */
  readonly cache?: boolean | undefined
  readonly timeouts?: Timeouts | undefined
  /**
   * Retries of retryable failures: `false` for none, or at most `times` retries (default 4) with
   * exponential backoff from 500 ms; a server's `retry-after` is honoured up to `maxRetryAfter`.
   */
  readonly retry?: false | { readonly times?: number | undefined; readonly maxRetryAfter?: Duration } | undefined
  /** What an interrupted or failed ask keeps of its turn in progress (default `"keep"`). */
  readonly partialTurn?: "keep" | "discard" | undefined
  /** How many tool calls of one turn run at once (default 1). */
  readonly toolConcurrency?: number | undefined
}

/**
 * Options of one ask.
 * @since 0.2.0
 */
export interface AskOptions extends EffectSession.ModelOptions {
  /** Aborting it interrupts the ask; the promise rejects (the iteration throws) with its reason. */
  readonly signal?: AbortSignal | undefined
  readonly timeouts?: Timeouts | undefined
  /** Instructions for this ask only, after the agent's system prompt. */
  readonly system?: string | undefined
}

/**
 * Options of one ask with a typed answer.
 * @since 0.2.0
 */
export interface TypedAskOptions<S extends AnswerSchema> extends AskOptions {
  readonly answer: S
}

/**
 * What a prompt can be: text, or content blocks (text, images, PDF documents).
 * @since 0.2.0
 */
export type Prompt = string | ReadonlyArray<Message.ContentBlock>

/**
 * Tokens used.
 * @since 0.2.0
 */
export interface Usage {
  readonly inputTokens: number
  readonly outputTokens: number
  readonly cacheReadTokens: number
  readonly cacheWriteTokens: number
}

/**
 * The outcome of one ask; `value` is what the model gave the `answer` tool, typed by the answer schema.
 * @since 0.2.0
 */
export interface Result<A = unknown> {
  readonly text: string
  /** `completed`, or `max_turns` when the model still wanted tools after the last turn. */
  readonly status: "completed" | "max_turns"
  readonly turns: number
  readonly attempts: number
  readonly stopReason: string
  readonly usage: Usage
  readonly value?: A | undefined
}

/**
 * A conversation with an agent: its data handles and its history, kept across asks.
 * @since 0.2.0
 */
export interface Session<A = unknown> {
  /** Stores a value (rows, an object, ...) under a handle; returns the name it got. */
  readonly put: (name: string, value: unknown, options?: Data.PutOptions) => Promise<string>
  /** Stores a CSV, Parquet or JSON file by path; returns the handle name. */
  readonly putFile: (name: string, path: string, options?: Data.PutFileOptions) => Promise<string>
  /** Asks; the final text. */
  readonly ask: (prompt: Prompt, options?: AskOptions | TypedAskOptions<AnswerSchema>) => Promise<string>
  /** Asks; the whole result. */
  readonly askResult: {
    <S extends AnswerSchema>(prompt: Prompt, options: TypedAskOptions<S>): Promise<Result<Type<S>>>
    (prompt: Prompt, options?: AskOptions): Promise<Result<A>>
  }
  /** Asks; every event as it happens (`for await`; `break` interrupts the ask). */
  readonly stream: (
    prompt: Prompt,
    options?: AskOptions | TypedAskOptions<AnswerSchema>
  ) => AsyncIterable<StreamEvent.StreamEvent>
  /** The tool calls waiting for approval now (a `needsApproval` tool's calls; see `approval_request` events). */
  readonly approvals: () => Promise<ReadonlyArray<Approval.Pending>>
  /**
   * Runs a tool call that waits for approval (the `tool_use_id` of an `approval_request` event),
   * with `input` instead of the model's when given; rejects with `ApprovalNotPending` when no call
   * waits under that id.
   */
  readonly approve: (toolUseId: string, options?: { readonly input?: unknown }) => Promise<void>
  /** Refuses a waiting tool call: the model reads `reason` as its error result, and the ask goes on. */
  readonly deny: (toolUseId: string, reason: string) => Promise<void>
  /** The conversation so far. */
  readonly history: () => Promise<ReadonlyArray<Message.Message>>
  /** Tokens used by every ask of the session. */
  readonly usage: () => Promise<Usage>
  /** Ends the session's running asks and releases its data (its embedded database). */
  readonly close: () => Promise<void>
  readonly [Symbol.asyncDispose]: () => Promise<void>
}

/**
 * An agent, on a runtime of its own.
 * @since 0.2.0
 */
export interface Agent<A = unknown> {
  /** Asks in a fresh session; the final text. */
  readonly run: (prompt: Prompt, options?: AskOptions | TypedAskOptions<AnswerSchema>) => Promise<string>
  /** Asks in a fresh session; the whole result. */
  readonly runResult: {
    <S extends AnswerSchema>(prompt: Prompt, options: TypedAskOptions<S>): Promise<Result<Type<S>>>
    (prompt: Prompt, options?: AskOptions): Promise<Result<A>>
  }
  /** Asks in a fresh session; every event as it happens (`for await`; `break` interrupts the run). */
  readonly stream: (
    prompt: Prompt,
    options?: AskOptions | TypedAskOptions<AnswerSchema>
  ) => AsyncIterable<StreamEvent.StreamEvent>
  /** A session that keeps its data and history across asks, optionally continuing a saved history. */
  readonly session: (options?: { readonly history?: ReadonlyArray<Message.Message> | undefined }) => Promise<Session<A>>
  /** Ends every running ask and session, and releases the provider's connections. */
  readonly close: () => Promise<void>
  readonly [Symbol.asyncDispose]: () => Promise<void>
}

// building

/** The Effect agent's options from plain ones. */
const optionsOf = (options: AgentOptions<AnswerSchema | undefined>): EffectAgent.Options<never, AnswerSchema> => {
  const { provider: _, tools, retry, ...rest } = options
  const retryOptions =
    retry === undefined || retry === false
      ? retry
      : {
          schedule:
            retry.times === undefined
              ? EffectAgent.defaultRetrySchedule
              : Schedule.exponential("500 millis").pipe(Schedule.jittered, Schedule.upTo({ times: retry.times })),
          maxRetryAfter: retry.maxRetryAfter
        }
  // durations are checked by the agent (a bad one is InvalidOptions)
  return {
    ...(rest as EffectAgent.Options<never, AnswerSchema>),
    // an AgentTool is the harness tool tool() made (or a Tool.make tool that needs no services)
    tools: tools as ReadonlyArray<Tool.Tool> | undefined,
    retry: retryOptions as EffectAgent.RetryOptions | false | undefined
  }
}

/** An ask's Effect options (without the signal). */
const askOf = (options: AskOptions | undefined): EffectSession.AskOptions | undefined => {
  if (options === undefined) return undefined
  const { signal: _, ...rest } = options
  // durations are checked by the agent (a bad one is InvalidOptions)
  return rest as EffectSession.AskOptions
}

/** Closes registered on an owner (an agent or a session), ended together. */
class Owned {
  private readonly closes = new Set<() => Promise<void>>()
  closed = false

  readonly track = (close: () => Promise<void>): (() => void) => {
    this.closes.add(close)
    return () => this.closes.delete(close)
  }

  /** Runs `f` with an abort signal that `closeAll` (or `signal`) aborts. */
  readonly run = async <X>(signal: AbortSignal | undefined, f: (signal: AbortSignal) => Promise<X>): Promise<X> => {
    const controller = new AbortController()
    const untrack = this.track(async () => controller.abort())
    try {
      return await f(signal === undefined ? controller.signal : AbortSignal.any([signal, controller.signal]))
    } finally {
      untrack()
    }
  }

  readonly closeAll = async (): Promise<void> => {
    this.closed = true
    const all = [...this.closes]
    this.closes.clear()
    await Promise.allSettled(all.map((close) => close()))
  }
}

const closedError = (what: string) =>
  new InvalidOptions({ option: what, message: `This ${what} is closed; create a new one.` })

/** The session's Promise methods over an Effect session on the agent's runtime. */
const sessionOf = <A>(runtime: Runtime, session: EffectSession.Session, release: () => Promise<void>): Session<A> => {
  const owned = new Owned()
  const run = <X>(options: AskOptions | undefined, f: (signal: AbortSignal) => Promise<X>): Promise<X> =>
    owned.closed ? Promise.reject(closedError("session")) : owned.run(options?.signal, f)
  let closing: Promise<void> | undefined
  const close = () => {
    closing ??= owned.closeAll().then(release)
    return closing
  }
  const self: Session<A> = {
    put: (name, value, options) =>
      run(undefined, (signal) => runPromise(runtime, session.put(name, value, options), signal)),
    putFile: (name, path, options) =>
      run(undefined, (signal) => runPromise(runtime, session.putFile(name, path, options), signal)),
    ask: (prompt, options) =>
      run(options, (signal) => runPromise(runtime, session.ask(prompt, askOf(options)), signal)),
    askResult: ((prompt: Prompt, options?: AskOptions) =>
      run(options, (signal) =>
        runPromise(runtime, session.askResult(prompt, askOf(options)), signal)
      )) as Session<A>["askResult"],
    stream: (prompt, options) => {
      if (owned.closed) throw closedError("session")
      return iterate(runtime, session.askStream(prompt, askOf(options)), options?.signal, owned.track)
    },
    approvals: () => runtime.runPromise(session.approvals),
    approve: (toolUseId, options) => runPromise(runtime, session.approve(toolUseId, options), undefined),
    deny: (toolUseId, reason) => runPromise(runtime, session.deny(toolUseId, reason), undefined),
    history: () => runtime.runPromise(session.history),
    usage: () => runtime.runPromise(session.usage),
    close,
    [Symbol.asyncDispose]: close
  }
  return self
}

/**
 * Creates an agent: `provider` is `anthropic({ ... })`, `openai({ ... })` or `mock({ turns })`.
 * The agent owns a runtime of its own (the provider's connection pool); `close()` (or `await
 * using`) ends its running asks and sessions and releases it. Invalid options reject the first
 * call with `InvalidOptions`.
 *
 * @example
 * ```ts
 * import { anthropic, createAgent } from "data-harness/promise"
 *
 * await using agent = createAgent({
 *   provider: anthropic({ model: "claude-sonnet-4-6" }),
 *   system: "You are a data analyst."
 * })
 * const session = await agent.session()
 * await session.put("sales", [{ region: "EU", revenue: 120 }, { region: "US", revenue: 80 }])
 * console.log(await session.ask("What is the total revenue?"))
 * for await (const event of session.stream("And by region?")) {
 *   if (event.type === "content_block_delta" && event.delta.type === "text_delta") process.stdout.write(event.delta.text)
 * }
 * ```
 * @since 0.2.0
 */
export const createAgent = <S extends AnswerSchema | undefined = undefined>(
  options: AgentOptions<S>
): Agent<S extends AnswerSchema ? Type<S> : unknown> => {
  const layer = layerOf(options?.provider)
  const runtime: Runtime = ManagedRuntime.make(
    layer ??
      Layer.effect(
        Provider.Provider,
        Effect.fail(
          new InvalidOptions({
            option: "provider",
            message: "createAgent needs a provider: anthropic({ ... }), openai({ ... }) or mock({ turns })."
          })
        )
      )
  )
  const built = runPromise(
    runtime,
    EffectAgent.make(optionsOf(options as AgentOptions<AnswerSchema | undefined>)),
    undefined
  )
  // a failure is reported by the first call
  built.catch(() => undefined)
  const owned = new Owned()
  const use = <X>(options: AskOptions | undefined, f: (agent: EffectAgent.Agent, signal: AbortSignal) => Promise<X>) =>
    owned.closed
      ? Promise.reject(closedError("agent"))
      : owned.run(options?.signal, async (signal) => f((await built) as EffectAgent.Agent, signal))
  let closing: Promise<void> | undefined
  const close = () => {
    closing ??= owned.closeAll().then(() => runtime.dispose())
    return closing
  }
  const agent: Agent = {
    run: (prompt, askOptions) =>
      use(askOptions, (effect, signal) => runPromise(runtime, effect.run(prompt, askOf(askOptions)), signal)),
    runResult: ((prompt: Prompt, askOptions?: AskOptions) =>
      use(askOptions, (effect, signal) =>
        runPromise(runtime, effect.runResult(prompt, askOf(askOptions)), signal)
      )) as Agent["runResult"],
    stream: (prompt, askOptions) => {
      if (owned.closed) throw closedError("agent")
      const stream = Stream.unwrap(
        Effect.map(
          Effect.tryPromise({ try: () => built as Promise<EffectAgent.Agent>, catch: (error) => error }),
          (effect) => effect.runStream(prompt, askOf(askOptions))
        )
      )
      return iterate(runtime, stream, askOptions?.signal, owned.track)
    },
    session: (sessionOptions) =>
      use(undefined, async (effect) => {
        const scope = Scope.makeUnsafe()
        const opened = await runtime.runPromise(Scope.provide(scope)(effect.session(sessionOptions)))
        const release = () => runtime.runPromise(Scope.close(scope, Exit.void))
        let untrack = () => {}
        const session = sessionOf<unknown>(runtime, opened, () => {
          untrack()
          return release()
        })
        untrack = owned.track(session.close)
        return session
      }),
    close,
    [Symbol.asyncDispose]: close
  }
  return agent as Agent<S extends AnswerSchema ? Type<S> : unknown>
}
