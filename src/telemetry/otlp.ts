/**
 * The OTLP exporter layer of `Telemetry.layerOtlp`, in a module of its own: it pulls in
 * `effect/observability` and effect's `fetch` client (about 2 MB of heap), which `Telemetry`
 * loads only when an exporter is asked for, so importing the package does not pay for it.
 *
 * @internal
 */
import { Layer } from "effect"
import { FetchHttpClient } from "effect/http"
import { Otlp, type OtlpExporter } from "effect/observability"
import type { OtlpOptions } from "./otlpOptions.js"

/** Traces, metrics and logs over OTLP/HTTP with `fetch` (options already checked). */
export const layer = (options: OtlpOptions): Layer.Layer<OtlpExporter.Flusher> =>
  (options.encoding === "protobuf" ? Otlp.layerProtobuf : Otlp.layerJson)({
    baseUrl: options.url,
    resource: {
      serviceName: options.serviceName,
      serviceVersion: options.serviceVersion,
      ...(options.resourceAttributes !== undefined ? { attributes: options.resourceAttributes } : {})
    },
    headers: options.headers,
    tracerExportInterval: options.exportInterval,
    loggerExportInterval: options.exportInterval,
    metricsExportInterval: options.metricsExportInterval,
    shutdownTimeout: options.shutdownTimeout
  }).pipe(Layer.provide(FetchHttpClient.layer))

/** Effect's `Flusher` key, for `Telemetry.flush`. */
export { OtlpExporter } from "effect/observability"
