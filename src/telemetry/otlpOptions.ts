/**
 * The options of the OTLP exporter. They live apart from `Telemetry.ts` so that the exporter module
 * (`otlp.ts`), which `Telemetry.ts` loads, can name them without importing it; `Telemetry.ts`
 * re-exports them unchanged.
 * @since 0.3.0
 */
import type { Duration } from "effect"

/**
 * Options of `Telemetry.layerOtlp`.
 * @since 0.3.0
 */
export interface OtlpOptions {
  /**
   * The collector's OTLP/HTTP base URL, e.g. `http://localhost:4318`; spans go to `/v1/traces`,
   * metrics to `/v1/metrics`, logs to `/v1/logs`.
   */
  readonly url: string
  /** `service.name` of the resource (required by OTLP). */
  readonly serviceName: string
  readonly serviceVersion?: string | undefined
  /** More resource attributes (`deployment.environment.name`, ...). */
  readonly resourceAttributes?: Record<string, unknown> | undefined
  /** Headers of every export request (an API key of a hosted collector). */
  readonly headers?: Record<string, string> | undefined
  /** Record prompts, outputs, system instructions and tool arguments and results (default false). */
  readonly captureContent?: boolean | undefined
  /** `json` (default) or `protobuf` bodies; collectors accept both. */
  readonly encoding?: "json" | "protobuf" | undefined
  /** How often spans and logs are sent (default 5 seconds). */
  readonly exportInterval?: Duration.Input | undefined
  /** How often metrics are sent (default 10 seconds). */
  readonly metricsExportInterval?: Duration.Input | undefined
  /** How long closing the layer waits for the last export (default 3 seconds). */
  readonly shutdownTimeout?: Duration.Input | undefined
}
