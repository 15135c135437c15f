/**
 * The model provider service: one turn as a whole response (`chat`) or as a stream of events
 * (`stream`).
 *
 * Adapters are supplied as Layers (`Anthropic.layer`, `Mock.layer`); swapping the layer is the only
 * change a test makes. {@link make} builds the service from a `chat` alone by synthesising the
 * standard event sequence, and {@link collect} folds a turn's events back into a response.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Provider } from "data-harness"
 * const ask = Effect.gen(function*() {
 *   const provider = yield* Provider.Provider
 *   return yield* provider.chat({ messages: [Message.user("hi")], tools: [] })
 * })
 * ```
 * @since 0.1.0
 */
import { Context, Effect, Layer, Stream } from "effect"
import type * as Arr from "effect/Array"
import { type InvalidOptions, ProviderError, Timeout } from "../core/HarnessError.js"
import type * as Message from "../core/Message.js"
import type { NormalizedResponse } from "../core/NormalizedResponse.js"
import * as StreamEvent from "../core/StreamEvent.js"
import { TurnAccumulator } from "../core/TurnAccumulator.js"
import * as Usage from "../core/Usage.js"
import * as Fallback from "./Fallback.js"
import type { ProviderFailure, Request, Service } from "./service.js"

export {
  defaultFallbackOn,
  type FallbackMember,
  type FallbackOptions,
  type FallbackPolicy,
  type FallbackReason
} from "./Fallback.js"

// models

export type {
  Info,
  Metadata,
  ProviderFailure,
  Request,
  Service,
  Thinking,
  ToolChoice,
  ToolDefinition
} from "./service.js"

/**
 * The provider service key.
 * @since 0.1.0
 */
export class Provider extends Context.Service<Provider, Service>()("data-harness/Provider") {}

// folding and synthesising

/**
 * Folds one turn's events into its response: text joined, tool input JSON parsed at block stop
 * (an empty input is `{}`; input cut short by `max_tokens` is completed the way the official SDK
 * does), thinking with its signature, usage counters replaced as they arrive; a delta of an
 * unknown kind is folded by its shape, and one that cannot be is logged as a warning. A malformed
 * sequence, invalid tool JSON or a stream without `message_stop` fails with a `ProviderError`
 * of reason `InvalidResponse`. Any `ProviderError` or `Timeout` carries the partial output.
 * @since 0.1.0
 */
export const collect = <E, R>(
  events: Stream.Stream<StreamEvent.ProviderEvent, E, R>,
  provider = "provider"
): Effect.Effect<NormalizedResponse, E | ProviderError, R> =>
  Effect.suspend(() => {
    const turn = new TurnAccumulator(provider)
    return events.pipe(
      Stream.runForEachArray((chunk) => {
        for (const event of chunk) {
          const error = turn.apply(event)
          if (error) return Effect.fail(error)
        }
        return Effect.void
      }),
      Effect.flatMap(() => {
        const response = turn.response()
        if (response instanceof ProviderError) return Effect.fail(response)
        return turn.unfolded.length === 0
          ? Effect.succeed(response)
          : Effect.as(Effect.logWarning(unfoldedMessage(provider, turn.unfolded)), response)
      }),
      // a failure mid-stream carries what had arrived
      Effect.mapError((error) =>
        error instanceof ProviderError || error instanceof Timeout
          ? (error.withPartial(turn.partial(Usage.empty)) as E | ProviderError)
          : error
      )
    )
  })

const unfoldedMessage = (provider: string, unfolded: TurnAccumulator["unfolded"]): string =>
  `${provider}: ${unfolded.length} delta field(s) of unknown kinds could not be folded into their block, which was kept as it started (${unfolded
    .slice(0, 3)
    .map((u) => `block ${u.index} ${u.type}.${u.field}`)
    .join(", ")}); the stream's events carry them`

/**
 * Options for {@link synthesize}.
 * @since 0.1.0
 */
export interface SynthesizeOptions {
  /** Split text and thinking into deltas of this many characters (default: one delta per block). */
  readonly chunkSize?: number | undefined
}

const chunks = (text: string, size: number | undefined): ReadonlyArray<string> => {
  if (size === undefined || size <= 0 || text.length <= size) return [text]
  const out: Array<string> = []
  for (let i = 0; i < text.length; i += size) out.push(text.slice(i, i + size))
  return out
}

/**
 * The standard event sequence of a whole response, as the Anthropic API would stream it:
 * `message_start`, for each block start / deltas / stop, `message_delta`, `message_stop`.
 * {@link collect} folds it back into an equal response.
 * @since 0.1.0
 */
export const synthesize = (
  response: NormalizedResponse,
  options?: SynthesizeOptions
): Array<StreamEvent.ProviderEvent> => {
  const size = options?.chunkSize
  const events: Array<Record<string, unknown>> = [
    {
      type: "message_start",
      message: {
        id: response.id ?? "msg_synthetic",
        type: "message",
        role: "assistant",
        model: response.model ?? "unknown",
        content: [],
        stop_reason: null,
        stop_sequence: null,
        usage: { ...Usage.toWire(response.usage), output_tokens: 0 }
      }
    }
  ]
  response.content.forEach((block, index) => {
    events.push({ type: "content_block_start", index, content_block: StreamEvent.startBlockOf(block) })
    switch (block.type) {
      case "text": {
        const text = (block as Message.TextBlock).text
        for (const part of chunks(text, size)) {
          events.push({ type: "content_block_delta", index, delta: { type: "text_delta", text: part } })
        }
        break
      }
      case "tool_use": {
        const json = JSON.stringify((block as Message.ToolUseBlock).input ?? {})
        for (const part of chunks(json, size)) {
          events.push({ type: "content_block_delta", index, delta: { type: "input_json_delta", partial_json: part } })
        }
        break
      }
      case "thinking": {
        const thinking = block as Message.ThinkingBlock
        for (const part of chunks(thinking.thinking, size)) {
          events.push({ type: "content_block_delta", index, delta: { type: "thinking_delta", thinking: part } })
        }
        events.push({
          type: "content_block_delta",
          index,
          delta: { type: "signature_delta", signature: thinking.signature }
        })
        break
      }
    }
    events.push({ type: "content_block_stop", index })
  })
  events.push({
    type: "message_delta",
    delta: { stop_reason: response.stopReason, stop_sequence: response.stopSequence ?? null },
    usage: Usage.toWire(response.usage)
  })
  events.push({ type: "message_stop" })
  return events as Array<StreamEvent.ProviderEvent>
}

// prompt caching

const ephemeral = { type: "ephemeral" } as const

/**
 * Marks a request for Anthropic prompt caching: `cache_control: { type: "ephemeral" }` on the
 * system prompt and on the last block of the final user message. Returns a new request; the
 * input and its messages are not mutated. The system prompt stays byte-stable across turns, so
 * every turn reads the cache the previous one wrote.
 * @since 0.1.0
 */
export const formatCacheControl = (request: Request): Request => {
  const system =
    request.system === undefined || request.system.length === 0
      ? request.system
      : typeof request.system === "string"
        ? [{ type: "text" as const, text: request.system, cache_control: ephemeral }]
        : request.system.map((block, i, all) => (i === all.length - 1 ? { ...block, cache_control: ephemeral } : block))
  let lastUser = -1
  for (let i = request.messages.length - 1; i >= 0; i--) {
    if (request.messages[i]!.role === "user") {
      lastUser = i
      break
    }
  }
  const messages =
    lastUser === -1 || request.messages[lastUser]!.content.length === 0
      ? request.messages
      : request.messages.map((message, i) =>
          i !== lastUser
            ? message
            : {
                role: message.role,
                content: message.content.map((block, j, all) =>
                  j === all.length - 1 ? ({ ...block, cache_control: ephemeral } as Message.ContentBlock) : block
                )
              }
        )
  return { ...request, system, messages }
}

// constructors

/**
 * Builds a provider service. Without `stream`, streaming is synthesised from `chat` (the standard
 * event sequence of the whole response); without `formatCacheControl`, Anthropic's markers are used.
 * @since 0.1.0
 */
export const make = (options: {
  readonly name: string
  readonly model: string
  readonly chat: (request: Request) => Effect.Effect<NormalizedResponse, ProviderFailure>
  readonly stream?: ((request: Request) => Stream.Stream<StreamEvent.ProviderEvent, ProviderFailure>) | undefined
  readonly formatCacheControl?: ((request: Request) => Request) | undefined
}): Service =>
  Provider.of({
    info: { name: options.name, model: options.model, supportsStreaming: options.stream !== undefined },
    chat: options.chat,
    stream:
      options.stream ??
      ((request) =>
        Stream.unwrap(Effect.map(options.chat(request), (response) => Stream.fromArray(synthesize(response))))),
    formatCacheControl: options.formatCacheControl ?? formatCacheControl
  })

// fallback chains

/**
 * A provider made of several, tried in order: a turn goes to the first, and when it fails with a
 * failure `options.on` names (default: `Overloaded`, `RateLimited`, `ServerError`, `Connection`,
 * `Timeout`) the same request goes to the next. Before any output the switch is invisible; after
 * output the stream emits `discard`, then the next provider's events from a fresh
 * `message_start`. Every turn starts at the first provider; `RunResult.answeredBy` says who
 * answered each. A member given as `{ provider, attempts, schedule }` is retried on its own
 * before the chain moves on; the agent's retry schedule wraps the whole chain. Requests are made
 * portable between vendors (unsigned thinking dropped, tool ids made safe for every provider).
 * See the README's "Fallback chains" (and why it is not built on effect's `ExecutionPlan`).
 *
 * @example
 * ```ts
 * const chain = Effect.gen(function*() {
 *   const anthropic = yield* Provider.Provider.pipe(Effect.provide(Anthropic.layer({ model: "claude-sonnet-4-6" })))
 *   const openai = yield* Provider.Provider.pipe(Effect.provide(OpenAI.layer({ model: "gpt-4.1" })))
 *   return Provider.fallback([anthropic, openai], { on: ["Overloaded", "RateLimited"] })
 * })
 * ```
 * @since 0.2.0
 */
export const fallback: (
  members: Arr.NonEmptyReadonlyArray<Service | Fallback.FallbackMember>,
  options?: Fallback.FallbackOptions
) => Service = Fallback.make

/**
 * {@link fallback} as a Layer, from the members' layers: each is built once, for the chain's
 * lifetime (its connections close with the chain's scope). Fails to build with `InvalidOptions`
 * when the chain is not valid (no layers, a bad `on`).
 *
 * @example
 * ```ts
 * import { Agent, Anthropic, OpenAI, Provider } from "data-harness"
 * const Models = Provider.layerFallback([
 *   Anthropic.layer({ model: "claude-sonnet-4-6" }),
 *   OpenAI.layer({ model: "gpt-4.1" })
 * ])
 * const program = Agent.make({}).pipe(Effect.flatMap((agent) => agent.run("hi")), Effect.provide(Models))
 * ```
 * @since 0.2.0
 */
export const layerFallback = <const Layers extends Arr.NonEmptyReadonlyArray<Layer.Layer<Provider, unknown, unknown>>>(
  layers: Layers,
  options?: Fallback.FallbackOptions
): Layer.Layer<Provider, Layer.Error<Layers[number]> | InvalidOptions, Layer.Services<Layers[number]>> =>
  Layer.effect(
    Provider,
    Effect.gen(function* () {
      const invalid = Fallback.check(Array.isArray(layers) ? layers.map(() => ({}) as Service) : [], options)
      if (invalid !== undefined) return yield* invalid
      const services = yield* Effect.forEach(layers, (layer) =>
        Effect.map(Layer.build(layer), (context) => Context.get(context, Provider))
      )
      return fallback(services as unknown as Arr.NonEmptyReadonlyArray<Service>, options)
    })
  ) as Layer.Layer<Provider, Layer.Error<Layers[number]> | InvalidOptions, Layer.Services<Layers[number]>>
