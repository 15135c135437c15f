/**
 * What the telemetry tests share: `Telemetry.layerOtlp` at a local receiver, with a fresh metric
 * registry (Effect's is process-global, so two tests would add up) and exports only when the
 * layer closes (the intervals are an hour), and ways to find what arrived.
 */
import { assert } from "@effect/vitest"
import { Effect, Layer, Metric } from "effect"
import { Telemetry } from "../../src/index.js"
import type { OtlpReceiver, ReceivedMetric, ReceivedSpan } from "../utils/otlpReceiver.js"

/**
 * Runs `program` under `Telemetry.layerOtlp` exporting to `receiver`; returns once the layer has
 * closed, so everything it recorded has arrived.
 */
export const observed = <A, E, R>(
  receiver: OtlpReceiver,
  program: Effect.Effect<A, E, R>,
  options?: { readonly captureContent?: boolean }
) =>
  program.pipe(
    Effect.provide(
      Telemetry.layerOtlp({
        url: receiver.url,
        serviceName: "telemetry-test",
        captureContent: options?.captureContent ?? false,
        exportInterval: "1 hour",
        metricsExportInterval: "1 hour"
      }).pipe(Layer.provideMerge(Layer.succeed(Metric.MetricRegistry)(new Map())))
    )
  )

/** The only span named `name`. */
export const only = (spans: ReadonlyArray<ReceivedSpan>, name: string): ReceivedSpan => {
  const found = spans.filter((span) => span.name === name)
  assert.strictEqual(found.length, 1, `one span named ${name}, got ${found.length}: ${spans.map((s) => s.name)}`)
  return found[0]!
}

/** The spans named `name`, in start order. */
export const named = (spans: ReadonlyArray<ReceivedSpan>, name: string): ReadonlyArray<ReceivedSpan> =>
  spans.filter((span) => span.name === name).sort((a, b) => (a.start < b.start ? -1 : a.start > b.start ? 1 : 0))

/** The metric named `name`. */
export const metric = (metrics: ReadonlyArray<ReceivedMetric>, name: string): ReceivedMetric => {
  const found = metrics.find((m) => m.name === name)
  assert.isDefined(found, `metric ${name} among ${metrics.map((m) => m.name)}`)
  return found!
}

/** The sum of a histogram's points whose attributes include `where`. */
export const sumWhere = (m: ReceivedMetric, where: Readonly<Record<string, unknown>>): number =>
  m.points
    .filter((point) => Object.entries(where).every(([key, value]) => point.attributes[key] === value))
    .reduce((total, point) => total + (point.sum ?? 0), 0)

/** The count of a histogram's points whose attributes include `where`. */
export const countWhere = (m: ReceivedMetric, where: Readonly<Record<string, unknown>>): number =>
  m.points
    .filter((point) => Object.entries(where).every(([key, value]) => point.attributes[key] === value))
    .reduce((total, point) => total + (point.count ?? 0), 0)
