/**
 * A local OTLP/HTTP JSON receiver for tests: a `node:http` server on a free port that keeps every
 * export posted to it (`/v1/traces`, `/v1/metrics`, `/v1/logs`) and decodes spans and metrics into
 * plain values (attribute values as JS values, times as bigint nanoseconds). Scoped: the server
 * closes with the scope.
 *
 * The exporter retries and then drops telemetry when nobody listens, so the receiver must be
 * listening before the exporter's layer is built: make it first in the test.
 */
import * as Http from "node:http"
import type { AddressInfo } from "node:net"
import { Effect, type Scope } from "effect"

/** One POST the receiver got. */
export interface Post {
  readonly path: string
  readonly contentType: string
  readonly body: unknown
}

/** A span as received, its attributes decoded. */
export interface ReceivedSpan {
  readonly traceId: string
  readonly spanId: string
  readonly parentSpanId: string | undefined
  readonly name: string
  /** 1 internal, 2 server, 3 client. */
  readonly kind: number
  readonly start: bigint
  readonly end: bigint
  readonly attributes: Readonly<Record<string, unknown>>
  readonly events: ReadonlyArray<{
    readonly name: string
    readonly time: bigint
    readonly attributes: Readonly<Record<string, unknown>>
  }>
  /** 0 unset, 1 ok, 2 error. */
  readonly status: { readonly code: number; readonly message?: string }
  readonly resource: Readonly<Record<string, unknown>>
}

/** One data point of a metric: `count`/`sum`/buckets for a histogram, `value` for a sum or gauge. */
export interface DataPoint {
  readonly attributes: Readonly<Record<string, unknown>>
  readonly count?: number
  readonly sum?: number
  readonly value?: number
  readonly bucketCounts?: ReadonlyArray<number>
  readonly explicitBounds?: ReadonlyArray<number>
}

/** A metric as received. */
export interface ReceivedMetric {
  readonly name: string
  readonly unit: string
  readonly description: string
  readonly kind: "histogram" | "sum" | "gauge" | "other"
  readonly points: ReadonlyArray<DataPoint>
}

/** The receiver: where to export to, and what it got so far. */
export interface OtlpReceiver {
  /** The base URL to give the exporter (`http://127.0.0.1:<port>`). */
  readonly url: string
  readonly posts: Effect.Effect<ReadonlyArray<Post>>
  /** Every span of every trace export, in arrival order. */
  readonly spans: Effect.Effect<ReadonlyArray<ReceivedSpan>>
  /** The metrics of the last metrics export (cumulative: the last one holds the totals). */
  readonly metrics: Effect.Effect<ReadonlyArray<ReceivedMetric>>
}

// biome-ignore lint/suspicious/noExplicitAny: OTLP JSON as it arrives
type Json = any

/** An OTLP `AnyValue` as a JS value. */
export const decodeValue = (value: Json): unknown => {
  if (value === undefined || value === null) return undefined
  if ("stringValue" in value) return value.stringValue
  if ("intValue" in value) return Number(value.intValue)
  if ("doubleValue" in value) return value.doubleValue
  if ("boolValue" in value) return value.boolValue
  if ("arrayValue" in value) return (value.arrayValue.values ?? []).map(decodeValue)
  if ("kvlistValue" in value) return decodeAttributes(value.kvlistValue.values)
  return undefined
}

const decodeAttributes = (attributes: Json): Record<string, unknown> =>
  Object.fromEntries(((attributes ?? []) as Array<Json>).map((a) => [a.key, decodeValue(a.value)]))

const spansOf = (body: Json): Array<ReceivedSpan> =>
  ((body?.resourceSpans ?? []) as Array<Json>).flatMap((rs) => {
    const resource = decodeAttributes(rs.resource?.attributes)
    return ((rs.scopeSpans ?? []) as Array<Json>).flatMap((ss) =>
      ((ss.spans ?? []) as Array<Json>).map(
        (span): ReceivedSpan => ({
          traceId: span.traceId,
          spanId: span.spanId,
          parentSpanId: span.parentSpanId || undefined,
          name: span.name,
          kind: span.kind,
          start: BigInt(span.startTimeUnixNano),
          end: BigInt(span.endTimeUnixNano),
          attributes: decodeAttributes(span.attributes),
          events: ((span.events ?? []) as Array<Json>).map((event) => ({
            name: event.name,
            time: BigInt(event.timeUnixNano),
            attributes: decodeAttributes(event.attributes)
          })),
          status: span.status ?? { code: 0 },
          resource
        })
      )
    )
  })

const pointOf = (point: Json): DataPoint => ({
  attributes: decodeAttributes(point.attributes),
  ...(point.count !== undefined ? { count: Number(point.count) } : {}),
  ...(point.sum !== undefined ? { sum: Number(point.sum) } : {}),
  ...(point.asDouble !== undefined ? { value: Number(point.asDouble) } : {}),
  ...(point.asInt !== undefined ? { value: Number(point.asInt) } : {}),
  ...(point.bucketCounts !== undefined ? { bucketCounts: point.bucketCounts.map(Number) } : {}),
  ...(point.explicitBounds !== undefined ? { explicitBounds: point.explicitBounds } : {})
})

const metricsOf = (body: Json): Array<ReceivedMetric> =>
  ((body?.resourceMetrics ?? []) as Array<Json>).flatMap((rm) =>
    ((rm.scopeMetrics ?? []) as Array<Json>).flatMap((sm) =>
      ((sm.metrics ?? []) as Array<Json>).map((metric): ReceivedMetric => {
        const data = metric.histogram ?? metric.sum ?? metric.gauge
        const kind = metric.histogram ? "histogram" : metric.sum ? "sum" : metric.gauge ? "gauge" : "other"
        return {
          name: metric.name,
          unit: metric.unit ?? "",
          description: metric.description ?? "",
          kind,
          points: ((data?.dataPoints ?? []) as Array<Json>).map(pointOf)
        }
      })
    )
  )

/** Starts a receiver on a free local port; it closes when the scope closes. */
export const make: Effect.Effect<OtlpReceiver, never, Scope.Scope> = Effect.gen(function* () {
  const posts: Array<Post> = []
  const server = Http.createServer((req, res) => {
    const chunks: Array<Buffer> = []
    req.on("data", (chunk: Buffer) => chunks.push(chunk))
    req.on("end", () => {
      const contentType = req.headers["content-type"] ?? ""
      const text = Buffer.concat(chunks).toString("utf8")
      let body: unknown = text
      if (contentType.includes("json")) {
        try {
          body = JSON.parse(text)
        } catch {
          body = text
        }
      }
      posts.push({ path: req.url ?? "", contentType, body })
      res.writeHead(200, { "content-type": "application/json" }).end("{}")
    })
  })
  yield* Effect.acquireRelease(
    Effect.callback<void>((resume) => {
      server.listen(0, "127.0.0.1", () => resume(Effect.void))
    }),
    () =>
      Effect.callback<void>((resume) => {
        server.closeAllConnections()
        server.close(() => resume(Effect.void))
      })
  )
  const { port } = server.address() as AddressInfo
  const of = (path: string) => posts.filter((post) => post.path === path)
  return {
    url: `http://127.0.0.1:${port}`,
    posts: Effect.sync(() => [...posts]),
    spans: Effect.sync(() => of("/v1/traces").flatMap((post) => spansOf(post.body))),
    metrics: Effect.sync(() => {
      const last = of("/v1/metrics").at(-1)
      return last === undefined ? [] : metricsOf(last.body)
    })
  }
})

/**
 * The spans as an indented tree of names, children in start order: one line per span,
 * `name [error.type]` when it has one.
 */
export const tree = (spans: ReadonlyArray<ReceivedSpan>): string => {
  const ids = new Set(spans.map((span) => span.spanId))
  const children = (parent: string | undefined) =>
    spans
      .filter((span) => (parent === undefined ? !ids.has(span.parentSpanId ?? "") : span.parentSpanId === parent))
      .sort((a, b) => (a.start < b.start ? -1 : a.start > b.start ? 1 : 0))
  const lines: Array<string> = []
  const walk = (span: ReceivedSpan, depth: number) => {
    const error = span.attributes["error.type"]
    lines.push(`${"  ".repeat(depth)}${span.name}${error === undefined ? "" : ` [${String(error)}]`}`)
    for (const child of children(span.spanId)) walk(child, depth + 1)
  }
  for (const root of children(undefined)) walk(root, 0)
  return lines.join("\n")
}
