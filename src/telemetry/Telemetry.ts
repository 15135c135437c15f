/**
 * OpenTelemetry traces and metrics of agent runs, by the GenAI semantic conventions
 * (https://opentelemetry.io/docs/specs/semconv/gen-ai/).
 *
 * Every ask is an `invoke_agent` span; under it each model call attempt is a `chat {model}` span
 * (client kind: provider, request model and parameters, response id and model, finish reasons,
 * token counts with the cached ones, time to first chunk) and each tool call an
 * `execute_tool {name}` span (tool name, call id, `error.type` for an error result). Retries and
 * timeouts are span events; a failure sets `error.type` (see {@link Attributes}). Metrics:
 * `gen_ai.client.token.usage`, `gen_ai.client.operation.duration`,
 * `gen_ai.client.operation.time_to_first_chunk`, `gen_ai.execute_tool.duration` and
 * `gen_ai.invoke_agent.duration`. Content (prompts, outputs, system instructions, tool
 * arguments and results) is recorded only with `captureContent: true`.
 *
 * Nothing is recorded, and nothing costs more than one check per ask, until a tracing backend is
 * installed: {@link layerOtlp} exports to any OTLP/HTTP collector with Effect's own exporter (no
 * extra dependency); the layers of `@effect/opentelemetry` work too.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Agent, Telemetry } from "data-harness"
 *
 * const program = Effect.gen(function*() {
 *   const agent = yield* Agent.make({ system: "You are a data analyst." })
 *   return yield* agent.run("What is 2 + 2?")
 * }).pipe(Effect.provide(Telemetry.layerOtlp({ url: "http://localhost:4318", serviceName: "analyst" })))
 * ```
 * @since 0.3.0
 */
import { Effect, Layer } from "effect"
import type { OtlpExporter } from "effect/observability"
import { InvalidOptions } from "../core/HarnessError.js"
import { CaptureContent } from "./names.js"
import type { OtlpOptions } from "./otlpOptions.js"

export {
  Attributes,
  agentDuration,
  CaptureContent,
  Enabled,
  Events,
  operationDuration,
  timeToFirstChunk,
  tokenUsage,
  toolDuration
} from "./names.js"
export type { OtlpOptions } from "./otlpOptions.js"

const loadOtlp = Effect.promise(() => import("./otlp.js"))

const invalid = (option: string, message: string): Layer.Layer<OtlpExporter.Flusher, InvalidOptions> =>
  Layer.unwrap(Effect.fail(new InvalidOptions({ option, message })))

/**
 * Exports traces, metrics and logs to an OpenTelemetry collector over OTLP/HTTP, with effect's
 * own exporter and `fetch`. Closing the layer (the end of `Effect.provide`, or the scope it was
 * built in) sends what is still buffered before it returns. `OtlpExporter.Flusher` in its output
 * sends it earlier ({@link flush}). Fails with `InvalidOptions` for a `url` that is not an
 * http(s) URL or an empty `serviceName`.
 *
 * @example
 * ```ts
 * const Observability = Telemetry.layerOtlp({
 *   url: "http://localhost:4318",
 *   serviceName: "analyst",
 *   captureContent: process.env.CAPTURE_CONTENT === "1"
 * })
 * ```
 * @since 0.3.0
 */
export const layerOtlp = (options: OtlpOptions): Layer.Layer<OtlpExporter.Flusher, InvalidOptions> => {
  const url = URL.canParse(options.url) ? new URL(options.url) : undefined
  if (url === undefined || (url.protocol !== "http:" && url.protocol !== "https:")) {
    return invalid(
      "url",
      `url is ${JSON.stringify(options.url)}; give the collector's OTLP/HTTP base URL, like "http://localhost:4318".`
    )
  }
  if (typeof options.serviceName !== "string" || options.serviceName.trim() === "") {
    return invalid("serviceName", "serviceName is empty; OTLP needs a service.name for every resource.")
  }
  // the exporter's modules load when the layer is built, not when the package is imported
  const exporter = Layer.unwrap(Effect.map(loadOtlp, (otlp) => otlp.layer(options)))
  return Layer.merge(exporter, Layer.succeed(CaptureContent)(options.captureContent ?? false))
}

/**
 * Sends every buffered span, metric and log now, under {@link layerOtlp} (or any layer of
 * `effect/observability`). Cannot fail; an export that fails is logged by the exporter.
 *
 * @example
 * ```ts
 * yield* agent.run("hi")
 * yield* Telemetry.flush
 * ```
 * @since 0.3.0
 */
export const flush: Effect.Effect<void, never, OtlpExporter.Flusher> = Effect.flatMap(loadOtlp, (otlp) =>
  Effect.flatMap(Effect.service(otlp.OtlpExporter.Flusher), (flusher) => flusher.flush)
)
