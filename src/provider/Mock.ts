/**
 * A scripted model provider for tests and the offline sample.
 *
 * Each model turn takes the next scripted {@link Turn}: fixed text, tool calls and thinking; a
 * function of the conversation so far (so a scripted model can read a tool result and answer
 * with it); or a failure with a chosen typed error, optionally after some streamed text. Text is
 * split into deltas of `chunkSize` characters, each event can be delayed on Effect's `Clock`
 * (so `TestClock` drives it), and every request received is recorded for assertions.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Agent, Mock } from "data-harness"
 * const program = Effect.gen(function*() {
 *   const agent = yield* Agent.make({ system: "You are terse." })
 *   return yield* agent.run("hi")
 * }).pipe(Effect.provide(Mock.layer({ turns: [Mock.text("hello")] })))
 * ```
 * @since 0.1.0
 */
import { Context, Duration, Effect, Layer, Ref, Stream } from "effect"
import { emptyPartial, InvalidOptions, type ProviderError, Timeout } from "../core/HarnessError.js"
import * as Message from "../core/Message.js"
import { NormalizedResponse } from "../core/NormalizedResponse.js"
import { describe, resolveDuration, resolveOneOf, resolveWholeNumber } from "../core/options.js"
import type * as StreamEvent from "../core/StreamEvent.js"
import * as Usage from "../core/Usage.js"
import * as Provider from "./Provider.js"

// scripts

/**
 * A tool call in a script. `id` defaults to a stable `toolu_mock_<turn>_<index>`.
 * @since 0.1.0
 */
export interface ToolCall {
  readonly name: string
  readonly input?: unknown
  readonly id?: string | undefined
}

/**
 * One scripted model turn's content.
 * @since 0.1.0
 */
export interface Script {
  readonly text?: string | undefined
  readonly thinking?: { readonly thinking: string; readonly signature: string } | undefined
  readonly toolCalls?: ReadonlyArray<ToolCall> | undefined
  /** Raw content blocks, appended after the text and tool calls. */
  readonly content?: ReadonlyArray<Message.ContentBlock> | undefined
  /** Defaults to `tool_use` when there are tool calls, else `end_turn`. */
  readonly stopReason?: string | undefined
  readonly usage?:
    | Partial<Pick<Usage.Usage, "inputTokens" | "outputTokens" | "cacheReadTokens" | "cacheWriteTokens">>
    | undefined
}

/**
 * What a scripted function sees: the request of this turn and its number (0-based over the
 * whole provider's life).
 * @since 0.1.0
 */
export interface TurnContext {
  readonly request: Provider.Request
  readonly messages: ReadonlyArray<Message.Message>
  readonly turn: number
  /** The last message's `tool_result` contents joined, the usual thing a scripted model reads. */
  readonly lastToolResults: ReadonlyArray<Message.ToolResultBlock>
}

/**
 * A turn that fails with `error`, after streaming `afterText` (if given) as text deltas.
 * @since 0.1.0
 */
export interface Failure {
  readonly _tag: "Failure"
  /** The error, or `"stall"` for a turn that stops sending events but never ends. */
  readonly error: ProviderError | Timeout | "stall"
  readonly afterText?: string | undefined
}

/**
 * One scripted turn.
 * @since 0.1.0
 */
export type Turn = Script | Failure | ((context: TurnContext) => Script | Failure | Effect.Effect<Script | Failure>)

/**
 * A turn that answers with text.
 * @since 0.1.0
 */
export const text = (value: string, usage?: Script["usage"]): Script => ({ text: value, usage })

/**
 * A turn that calls tools (optionally after some text).
 * @since 0.1.0
 */
export const toolCalls = (calls: ReadonlyArray<ToolCall>, textBefore?: string): Script => ({
  text: textBefore,
  toolCalls: calls
})

/**
 * A turn that calls one tool.
 * @since 0.1.0
 */
export const toolCall = (name: string, input: unknown = {}, id?: string): Script => ({
  toolCalls: [{ name, input, id }]
})

/**
 * A turn that fails with `error`, after streaming `afterText` if given.
 * @since 0.1.0
 */
export const fail = (error: ProviderError | Timeout, afterText?: string): Failure => ({
  _tag: "Failure",
  error,
  afterText
})

/**
 * A turn that streams `afterText` (if given) and then sends nothing more, never ending: a stalled
 * connection, for idle timeouts and interruption.
 * @since 0.1.0
 */
export const stall = (afterText?: string): Failure => ({ _tag: "Failure", error: "stall", afterText })

/**
 * A turn computed from the conversation so far.
 * @since 0.1.0
 */
export const reply = (f: (context: TurnContext) => Script | Failure | Effect.Effect<Script | Failure>): Turn => f

// recorder

/**
 * The requests a mock provider received, in order, as the provider saw them (after
 * `formatCacheControl`, so cache markers are visible).
 * @since 0.1.0
 */
export class Recorder extends Context.Service<
  Recorder,
  {
    readonly requests: Effect.Effect<ReadonlyArray<Provider.Request>>
    /** How many turns have been served. */
    readonly turns: Effect.Effect<number>
  }
>()("data-harness/Mock/Recorder") {}

// options

/**
 * Options of {@link layer}.
 * @since 0.1.0
 */
export interface Options {
  readonly turns: ReadonlyArray<Turn>
  /** What to do when the script runs out: repeat the last turn (default) or fail. */
  readonly whenExhausted?: "repeatLast" | "fail" | undefined
  /** Split text, thinking and tool input into deltas of this many characters. */
  readonly chunkSize?: number | undefined
  /** Delay before each event, on Effect's Clock. */
  readonly eventDelay?: Duration.Input | undefined
  /** Delay before the first event ("response headers"), bounded by `request.requestTimeout`. */
  readonly headersDelay?: Duration.Input | undefined
  readonly model?: string | undefined
  /** Serve turns through `chat` only, with synthesised streaming (as a provider without native streaming). */
  readonly streaming?: boolean | undefined
}

const estimateTokens = (text: string) => Math.ceil(text.length / 4)

const responseOf = (script: Script, turn: number, request: Provider.Request, model: string): NormalizedResponse => {
  const content: Array<Message.ContentBlock> = []
  if (script.thinking) content.push({ type: "thinking", ...script.thinking })
  if (script.text !== undefined && script.text.length > 0) content.push(Message.text(script.text))
  script.toolCalls?.forEach((call, index) => {
    content.push({
      type: "tool_use",
      id: call.id ?? `toolu_mock_${turn}_${index}`,
      name: call.name,
      input: call.input ?? {}
    })
  })
  if (script.content) content.push(...script.content)
  const inputText = request.messages.map((m) => JSON.stringify(m.content)).join("")
  return new NormalizedResponse({
    id: `msg_mock_${turn}`,
    model,
    stopReason: script.stopReason ?? (script.toolCalls && script.toolCalls.length > 0 ? "tool_use" : "end_turn"),
    stopSequence: null,
    content,
    usage: Usage.make({
      inputTokens: script.usage?.inputTokens ?? estimateTokens(inputText),
      outputTokens: script.usage?.outputTokens ?? estimateTokens(JSON.stringify(content)),
      cacheReadTokens: script.usage?.cacheReadTokens ?? 0,
      cacheWriteTokens: script.usage?.cacheWriteTokens ?? 0
    })
  })
}

const isFailure = (value: Script | Failure): value is Failure => "_tag" in value && value._tag === "Failure"

/** The options, checked: what `make` works with. */
interface Checked {
  readonly model: string
  readonly chunkSize: number | undefined
  readonly eventDelay: Duration.Duration | undefined
  readonly headersDelay: Duration.Duration | undefined
}

const optional = <A>(
  value: unknown,
  resolve: (value: unknown) => A | InvalidOptions
): A | undefined | InvalidOptions => (value === undefined ? undefined : resolve(value))

/** Every option checked, the first invalid one as `InvalidOptions` (a mock never throws on its options). */
const check = (options: Options): Checked | InvalidOptions => {
  if (typeof options !== "object" || options === null || !Array.isArray(options.turns)) {
    return new InvalidOptions({ option: "turns", message: "Mock.layer needs `turns`: an array of scripted turns." })
  }
  const bad = options.turns.findIndex(
    (turn) => typeof turn !== "function" && (typeof turn !== "object" || turn === null)
  )
  if (bad !== -1) {
    return new InvalidOptions({
      option: `turns[${bad}]`,
      message: `turns[${bad}] must be a script (Mock.text, Mock.toolCall, ...), a failure or a function, not ${describe(options.turns[bad])}.`
    })
  }
  const exhausted = optional(options.whenExhausted, (v) => resolveOneOf("whenExhausted", v, ["repeatLast", "fail"]))
  if (exhausted instanceof InvalidOptions) return exhausted
  const streaming = optional(options.streaming, (v) => resolveOneOf("streaming", v, [true, false]))
  if (streaming instanceof InvalidOptions) return streaming
  const chunkSize = optional(options.chunkSize, (v) => resolveWholeNumber("chunkSize", v))
  if (chunkSize instanceof InvalidOptions) return chunkSize
  const eventDelay = optional(options.eventDelay, (v) => resolveDuration("eventDelay", v))
  if (eventDelay instanceof InvalidOptions) return eventDelay
  const headersDelay = optional(options.headersDelay, (v) => resolveDuration("headersDelay", v))
  if (headersDelay instanceof InvalidOptions) return headersDelay
  const model = options.model ?? "mock-model"
  if (typeof model !== "string" || model.length === 0) {
    return new InvalidOptions({ option: "model", message: `model must be a non-empty string, not ${describe(model)}.` })
  }
  return { model, chunkSize, eventDelay, headersDelay }
}

// serving a turn

/** A turn's "response headers": after `delay`, or a `Timeout` once the request's `requestTimeout` has passed. */
const headersAfter = (delay: Duration.Duration, request: Provider.Request): Effect.Effect<void, Timeout> => {
  const wait = Effect.sleep(delay)
  const limit = request.requestTimeout
  if (limit === undefined) return wait
  return Effect.timeoutOrElse(wait, {
    duration: limit,
    orElse: () =>
      Effect.fail(
        new Timeout({
          phase: "request",
          limitMillis: Duration.toMillis(limit),
          message: `The mock provider sent no response headers within ${Duration.format(limit)}.`,
          partial: emptyPartial
        })
      )
  })
}

/** What scripted turn `turn` answers `request` with; past the script's end with `whenExhausted: "fail"`, a defect. */
const answerOf = (options: Options, turn: number, request: Provider.Request): Effect.Effect<Script | Failure> => {
  const scripted =
    options.turns[turn] ?? (options.whenExhausted === "fail" ? undefined : options.turns[options.turns.length - 1])
  if (scripted === undefined) {
    return Effect.die(
      new Error(`Mock provider: the script has ${options.turns.length} turns; turn ${turn + 1} was requested`)
    )
  }
  if (typeof scripted !== "function") return Effect.succeed(scripted)
  const last = request.messages[request.messages.length - 1]
  const value = scripted({
    request,
    messages: request.messages,
    turn,
    lastToolResults:
      last?.role === "user" ? last.content.filter((b): b is Message.ToolResultBlock => b.type === "tool_result") : []
  })
  return Effect.isEffect(value) ? value : Effect.succeed(value)
}

/** `events` as a stream, each after `eventDelay` when set. */
const delayed = (
  events: ReadonlyArray<StreamEvent.ProviderEvent>,
  eventDelay: Duration.Duration | undefined
): Stream.Stream<StreamEvent.ProviderEvent> =>
  eventDelay === undefined
    ? Stream.fromArray(events)
    : Stream.fromArray(events).pipe(Stream.mapEffect((event) => Effect.as(Effect.sleep(eventDelay), event)))

/**
 * A failing turn: the events of its `afterText` (`textEvents`) up to the first event that ends
 * something (the text block's stop, or the message's end when the text is empty), so the failure
 * strikes mid-turn; then the error, or no end at all for a stall.
 */
const failing = (
  failure: Failure,
  textEvents: (text: string) => ReadonlyArray<StreamEvent.ProviderEvent>,
  eventDelay: Duration.Duration | undefined
): Stream.Stream<StreamEvent.ProviderEvent, ProviderError | Timeout> => {
  const end = failure.error === "stall" ? Stream.never : Stream.fail(failure.error)
  if (failure.afterText === undefined) return end
  const events = textEvents(failure.afterText)
  const cut = events.findIndex(
    (event) => event.type === "content_block_stop" || event.type === "message_delta" || event.type === "message_stop"
  )
  return Stream.concat(delayed(events.slice(0, cut === -1 ? events.length : cut), eventDelay), end)
}

// constructors

/**
 * Builds the mock provider service and its recorder. Fails with `InvalidOptions` when an option
 * is not valid (a delay that is not a duration, a `chunkSize` that is not a whole number, ...).
 * The service accepts every per-call parameter of `Provider.Request` and records it.
 * @since 0.1.0
 */
export const make = Effect.fnUntraced(function* (options: Options) {
  const checked = check(options)
  if (checked instanceof InvalidOptions) return yield* checked
  const { model, chunkSize, eventDelay, headersDelay } = checked
  // appended in place: copying the list per request made long-lived mocks quadratic
  const requests: Array<Provider.Request> = []
  const counter = yield* Ref.make(0)

  const next = (request: Provider.Request) =>
    Effect.gen(function* () {
      requests.push(request)
      const turn = yield* Ref.getAndUpdate(counter, (n) => n + 1)
      if (headersDelay !== undefined) yield* headersAfter(headersDelay, request)
      const resolved = yield* answerOf(options, turn, request)
      return { turn, resolved }
    })

  const chat = (request: Provider.Request) =>
    Effect.flatMap(next(request), ({ turn, resolved }) =>
      !isFailure(resolved)
        ? Effect.succeed(responseOf(resolved, turn, request, model))
        : resolved.error === "stall"
          ? Effect.never
          : Effect.fail(resolved.error)
    )

  const stream = (request: Provider.Request): Stream.Stream<StreamEvent.ProviderEvent, Provider.ProviderFailure> =>
    Stream.unwrap(
      Effect.map(next(request), ({ turn, resolved }) => {
        const events = (script: Script) => Provider.synthesize(responseOf(script, turn, request, model), { chunkSize })
        return isFailure(resolved)
          ? failing(resolved, (text) => events({ text }), eventDelay)
          : delayed(events(resolved), eventDelay)
      })
    )

  const service = Provider.make({
    name: "mock",
    model,
    chat,
    stream: options.streaming === false ? undefined : stream
  })
  const recorder = Recorder.of({
    requests: Effect.sync((): ReadonlyArray<Provider.Request> => [...requests]),
    turns: Ref.get(counter)
  })
  return { service, recorder }
})

// layers

/**
 * A layer providing the scripted `Provider` and its `Recorder`; fails to build with
 * `InvalidOptions` when an option is not valid.
 * @since 0.1.0
 */
export const layer = (options: Options): Layer.Layer<Provider.Provider | Recorder, InvalidOptions> =>
  Layer.effectContext(
    Effect.map(make(options), ({ recorder, service }) =>
      Context.make(Provider.Provider, service).pipe(Context.add(Recorder, recorder))
    )
  )
