/**
 * What the harness's telemetry is made of, by name: the attributes and span events it records
 * (the OpenTelemetry GenAI semantic conventions where they have a name, `data_harness.*` where
 * they have none), its metric instruments, and the settings that turn it on and capture content.
 * Light on purpose: only `effect` itself, so the agent loop can import it.
 *
 * @internal
 */
import { Context, Metric } from "effect"

// attributes

/**
 * The attribute names the harness records, by the GenAI semantic conventions
 * (https://opentelemetry.io/docs/specs/semconv/gen-ai/) where they have one.
 *
 * @example
 * ```ts
 * import { Telemetry } from "data-harness"
 * span.attributes.get(Telemetry.Attributes.usageInputTokens) // cached tokens included
 * ```
 * @since 0.3.0
 */
export const Attributes = {
  /** `chat`, `invoke_agent` or `execute_tool`. */
  operationName: "gen_ai.operation.name",
  /** The provider's name (`Provider.info.name`): `anthropic`, `openai`, `mock`, a preset's name. */
  providerName: "gen_ai.provider.name",
  agentName: "gen_ai.agent.name",
  /** The session's id, when the session has one. */
  conversationId: "gen_ai.conversation.id",
  requestModel: "gen_ai.request.model",
  requestMaxTokens: "gen_ai.request.max_tokens",
  requestTemperature: "gen_ai.request.temperature",
  requestTopP: "gen_ai.request.top_p",
  requestTopK: "gen_ai.request.top_k",
  requestStopSequences: "gen_ai.request.stop_sequences",
  /** Always `true`: the loop streams every model call. */
  requestStream: "gen_ai.request.stream",
  responseId: "gen_ai.response.id",
  responseModel: "gen_ai.response.model",
  /** The stop reason in the conventions' words: `stop`, `tool_call`, `length`, `content_filter`. */
  responseFinishReasons: "gen_ai.response.finish_reasons",
  /** Seconds from sending the request to the first chunk of the response. */
  responseTimeToFirstChunk: "gen_ai.response.time_to_first_chunk",
  /** Input tokens including the cached ones (uncached + cache reads + cache writes), as the conventions ask. */
  usageInputTokens: "gen_ai.usage.input_tokens",
  usageOutputTokens: "gen_ai.usage.output_tokens",
  usageCacheReadInputTokens: "gen_ai.usage.cache_read.input_tokens",
  usageCacheCreationInputTokens: "gen_ai.usage.cache_creation.input_tokens",
  /** `input` or `output`, on `gen_ai.client.token.usage`. */
  tokenType: "gen_ai.token.type",
  toolName: "gen_ai.tool.name",
  toolCallId: "gen_ai.tool.call.id",
  /** `function`: every harness tool runs in-process. */
  toolType: "gen_ai.tool.type",
  toolDescription: "gen_ai.tool.description",
  /** Opt-in content: the tool's input as JSON. */
  toolCallArguments: "gen_ai.tool.call.arguments",
  /** Opt-in content: what the tool gave back to the model. */
  toolCallResult: "gen_ai.tool.call.result",
  /** Opt-in content: the conversation sent, JSON in the conventions' message shape. */
  inputMessages: "gen_ai.input.messages",
  /** Opt-in content: the model's reply, JSON in the conventions' message shape. */
  outputMessages: "gen_ai.output.messages",
  /** Opt-in content: the system prompt as JSON text parts. */
  systemInstructions: "gen_ai.system_instructions",
  /** Opt-in content: the tool definitions sent. */
  toolDefinitions: "gen_ai.tool.definitions",
  serverAddress: "server.address",
  serverPort: "server.port",
  /**
   * Why an operation failed: a `ProviderError`'s `reason` (`RateLimited`, `Overloaded`,
   * `ServerError`, `Connection`, `Authentication`, ...), otherwise the error's tag (`Timeout`,
   * `MaxTurnsExceeded`, `InvalidOptions`), `ToolError` for a tool's error result, `_OTHER` for
   * anything else.
   */
  errorType: "error.type",
  /** The attempt of a model turn this `chat` span is (1, then 2 after a retry, ...). */
  attempt: "data_harness.attempt",
  /** On a `Timeout`: which limit passed (`request`, `firstEvent`, `idle`, `tool`, `turn`, `run`). */
  timeoutPhase: "data_harness.timeout.phase",
  /** On a `Timeout`: the limit, in milliseconds. */
  timeoutLimitMs: "data_harness.timeout.limit_ms",
  /** On a retry event: the attempt about to start. */
  retryAttempt: "data_harness.retry.attempt",
  /** On a retry event: how long the harness waits before it, in milliseconds. */
  retryDelayMs: "data_harness.retry.delay_ms"
} as const

/**
 * The span events the harness records.
 *
 * - `data_harness.retry` on the `invoke_agent` span: a model call failed and is retried
 *   (`error.type`, `data_harness.retry.attempt`, `data_harness.retry.delay_ms`).
 * - `data_harness.timeout` on the span whose limit passed (the `chat` span for `request`,
 *   `firstEvent`, `idle` and `turn`; the `invoke_agent` span for `run`), with
 *   `data_harness.timeout.phase` and `data_harness.timeout.limit_ms`.
 * @since 0.3.0
 */
export const Events = {
  retry: "data_harness.retry",
  timeout: "data_harness.timeout"
} as const

// metrics

/**
 * A histogram of the conventions: its name, unit and bucket boundaries.
 * @internal
 */
export interface HistogramSpec {
  readonly name: string
  readonly description: string
  readonly unit: string
  readonly boundaries: ReadonlyArray<number>
}

/** The conventions' advice for durations in seconds: 0.01 s doubling to 81.92 s. */
const durationBoundaries = [0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92]

/**
 * The histograms the harness records.
 * @internal
 */
export const specs = {
  tokenUsage: {
    name: "gen_ai.client.token.usage",
    description: "Number of input and output tokens used per model call",
    unit: "{token}",
    boundaries: [1, 4, 16, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304, 16777216, 67108864]
  },
  operationDuration: {
    name: "gen_ai.client.operation.duration",
    description: "Duration of one model call (one attempt), in seconds",
    unit: "s",
    boundaries: durationBoundaries
  },
  timeToFirstChunk: {
    name: "gen_ai.client.operation.time_to_first_chunk",
    description: "Time from sending a streaming model call to its first chunk, in seconds",
    unit: "s",
    boundaries: durationBoundaries
  },
  toolDuration: {
    name: "gen_ai.execute_tool.duration",
    description: "Duration of one tool call, in seconds",
    unit: "s",
    boundaries: durationBoundaries
  },
  agentDuration: {
    name: "gen_ai.invoke_agent.duration",
    description: "Duration of one ask of an agent, in seconds",
    unit: "s",
    boundaries: [0.1, 0.2, 0.4, 0.8, 1.6, 3.2, 6.4, 12.8, 25.6, 51.2, 102.4, 204.8, 409.6]
  }
} as const satisfies Record<string, HistogramSpec>

/**
 * The histogram of `spec` with `attributes` fixed (one series). Its unit travels as the
 * `unit` attribute, which is how effect's OTLP exporter finds it. The same series as
 * `Metric.withAttributes(<the exported metric>, attributes)`.
 * @internal
 */
export const histogram = (spec: HistogramSpec, attributes?: Readonly<Record<string, string>>) =>
  Metric.histogram(spec.name, {
    description: spec.description,
    boundaries: spec.boundaries,
    attributes: { unit: spec.unit, ...attributes }
  })

/**
 * `gen_ai.client.token.usage`: tokens per model call, one series per `gen_ai.token.type`
 * (`input`, cached tokens included; `output`). Its sums over a run equal the run's usage.
 *
 * @example
 * ```ts
 * import { Effect, Metric } from "effect"
 * import { Telemetry } from "data-harness"
 * const snapshot = Effect.map(Metric.snapshot, (all) => all.filter((m) => m.id === Telemetry.tokenUsage.id))
 * ```
 * @since 0.3.0
 */
export const tokenUsage: Metric.Histogram<number> = histogram(specs.tokenUsage)

/**
 * `gen_ai.client.operation.duration`: seconds per model call attempt, with `error.type` when it failed.
 * @since 0.3.0
 */
export const operationDuration: Metric.Histogram<number> = histogram(specs.operationDuration)

/**
 * `gen_ai.client.operation.time_to_first_chunk`: seconds from sending a model call to its first chunk.
 * @since 0.3.0
 */
export const timeToFirstChunk: Metric.Histogram<number> = histogram(specs.timeToFirstChunk)

/**
 * `gen_ai.execute_tool.duration`: seconds per tool call, by `gen_ai.tool.name`, with `error.type`
 * when the tool answered with an error.
 * @since 0.3.0
 */
export const toolDuration: Metric.Histogram<number> = histogram(specs.toolDuration)

/**
 * `gen_ai.invoke_agent.duration`: seconds per ask, with `error.type` when it failed.
 * @since 0.3.0
 */
export const agentDuration: Metric.Histogram<number> = histogram(specs.agentDuration)

// settings

/**
 * Whether spans carry content: prompts, outputs, system instructions, tool definitions, tool
 * arguments and results (the conventions' opt-in attributes). Off by default: content can hold
 * personal or confidential data. `Telemetry.layerOtlp({ captureContent: true })` turns it on, or
 * provide it yourself beside another tracer.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Telemetry } from "data-harness"
 * program.pipe(Effect.provideService(Telemetry.CaptureContent, true))
 * ```
 * @since 0.3.0
 */
export const CaptureContent: Context.Reference<boolean> = Context.Reference<boolean>(
  "data-harness/Telemetry/CaptureContent",
  { defaultValue: () => false }
)

/**
 * Whether asks record spans and metrics. `"auto"` (the default): when a tracing backend is
 * installed (`Telemetry.layerOtlp`, `@effect/opentelemetry`, any `Tracer` other than Effect's
 * built-in one) and tracing is enabled. `true` also records without one (metrics for a
 * Prometheus exporter, say); `false` never records.
 *
 * @example
 * ```ts
 * import { Layer } from "effect"
 * import { Telemetry } from "data-harness"
 * const metricsOnly = Layer.succeed(Telemetry.Enabled)(true)
 * ```
 * @since 0.3.0
 */
export const Enabled: Context.Reference<boolean | "auto"> = Context.Reference<boolean | "auto">(
  "data-harness/Telemetry/Enabled",
  { defaultValue: () => "auto" }
)
