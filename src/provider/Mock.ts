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
import { emptyPartial, type ProviderError, Timeout } from "../core/HarnessError.js"
import * as Message from "../core/Message.js"
import { NormalizedResponse } from "../core/NormalizedResponse.js"
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

// constructors

/**
 * Builds the mock provider service and its recorder.
 * @since 0.1.0
 */
export const make = Effect.fnUntraced(function* (options: Options) {
  // appended in place: copying the list per request made long-lived mocks quadratic
  const requests: Array<Provider.Request> = []
  const counter = yield* Ref.make(0)
  const model = options.model ?? "mock-model"
  const eventDelay = options.eventDelay === undefined ? undefined : Duration.fromInputUnsafe(options.eventDelay)
  const headersDelay = options.headersDelay === undefined ? undefined : Duration.fromInputUnsafe(options.headersDelay)

  const next = (request: Provider.Request) =>
    Effect.gen(function* () {
      requests.push(request)
      const turn = yield* Ref.getAndUpdate(counter, (n) => n + 1)
      if (headersDelay !== undefined) {
        const wait = Effect.sleep(headersDelay)
        yield* request.requestTimeout === undefined
          ? wait
          : wait.pipe(
              Effect.timeoutOrElse({
                duration: request.requestTimeout,
                orElse: () =>
                  Effect.fail(
                    new Timeout({
                      phase: "request",
                      limitMillis: Duration.toMillis(request.requestTimeout!),
                      message: `The mock provider sent no response headers within ${Duration.format(request.requestTimeout!)}.`,
                      partial: emptyPartial
                    })
                  )
              })
            )
      }
      const scripted =
        options.turns[turn] ?? (options.whenExhausted === "fail" ? undefined : options.turns[options.turns.length - 1])
      if (scripted === undefined) {
        return yield* Effect.die(
          new Error(`Mock provider: the script has ${options.turns.length} turns; turn ${turn + 1} was requested`)
        )
      }
      const last = request.messages[request.messages.length - 1]
      const context: TurnContext = {
        request,
        messages: request.messages,
        turn,
        lastToolResults:
          last?.role === "user"
            ? last.content.filter((b): b is Message.ToolResultBlock => b.type === "tool_result")
            : []
      }
      const value = typeof scripted === "function" ? scripted(context) : scripted
      const resolved = Effect.isEffect(value) ? yield* value : value
      return { turn, resolved }
    })

  const delayed = (events: ReadonlyArray<StreamEvent.ProviderEvent>) =>
    eventDelay === undefined
      ? Stream.fromArray(events)
      : Stream.fromArray(events).pipe(Stream.mapEffect((event) => Effect.as(Effect.sleep(eventDelay), event)))

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
        if (!isFailure(resolved)) {
          return delayed(
            Provider.synthesize(responseOf(resolved, turn, request, model), { chunkSize: options.chunkSize })
          )
        }
        const end = resolved.error === "stall" ? Stream.never : Stream.fail(resolved.error)
        if (resolved.afterText === undefined) return end
        const events = Provider.synthesize(responseOf({ text: resolved.afterText }, turn, request, model), {
          chunkSize: options.chunkSize
        })
        // everything before the first event that ends something (the text block's stop, or the
        // message's end when the text is empty): the failure strikes mid-turn
        const cut = events.findIndex(
          (event) =>
            event.type === "content_block_stop" || event.type === "message_delta" || event.type === "message_stop"
        )
        return Stream.concat(delayed(events.slice(0, cut === -1 ? events.length : cut)), end)
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
 * A layer providing the scripted `Provider` and its `Recorder`.
 * @since 0.1.0
 */
export const layer = (options: Options): Layer.Layer<Provider.Provider | Recorder> =>
  Layer.effectContext(
    Effect.map(make(options), ({ recorder, service }) =>
      Context.make(Provider.Provider, service).pipe(Context.add(Recorder, recorder))
    )
  )
