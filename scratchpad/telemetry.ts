/**
 * Observability on its own (`npx tsx scratchpad/telemetry.ts`), offline: a scripted model (provider
 * `mock`) asks for two tools, one of which fails, after a retried call; the run is exported with
 * `Telemetry.layerOtlp` and the spans that arrived are printed as a tree with their GenAI
 * attributes, then the metrics.
 *
 * Where it exports: `OTEL_EXPORTER_OTLP_ENDPOINT` if set (a collector, Jaeger, Grafana's
 * `otel-lgtm`, ... e.g. `docker run -p 4318:4318 -p 16686:16686 jaegertracing/all-in-one`, then
 * `OTEL_EXPORTER_OTLP_ENDPOINT=http://localhost:4318 npx tsx scratchpad/telemetry.ts`), otherwise
 * a tiny OTLP/HTTP JSON receiver this program starts on a free local port. `CAPTURE_CONTENT=1`
 * records prompts and outputs on the spans too.
 */
import * as Http from "node:http"
import type { AddressInfo } from "node:net"
import { Effect, Schedule, Schema } from "effect"
import { Agent, HarnessError, Mock, Telemetry, Tool } from "../src/index.js"

// a receiver that keeps what it is sent (what a collector would get)

// biome-ignore lint/suspicious/noExplicitAny: OTLP JSON as it arrives
type Json = any
const received: Array<{ readonly path: string; readonly body: Json }> = []
const receiver = Http.createServer((req, res) => {
  let text = ""
  req.on("data", (chunk) => {
    text += chunk
  })
  req.on("end", () => {
    received.push({ path: req.url ?? "", body: JSON.parse(text) })
    res.writeHead(200, { "content-type": "application/json" }).end("{}")
  })
})

const decoded = (value: Json): unknown =>
  value.stringValue ??
  (value.intValue !== undefined ? Number(value.intValue) : undefined) ??
  value.doubleValue ??
  value.boolValue ??
  value.arrayValue?.values.map(decoded)

const attributesOf = (list: Json): Record<string, unknown> =>
  Object.fromEntries((list ?? []).map((a: Json) => [a.key, decoded(a.value)]))

/** The received spans as a tree: name, duration, the attributes worth reading, events. */
const printTree = () => {
  const spans: Array<Json> = received
    .filter((post) => post.path === "/v1/traces")
    .flatMap((post) => post.body.resourceSpans.flatMap((rs: Json) => rs.scopeSpans.flatMap((ss: Json) => ss.spans)))
  const ids = new Set(spans.map((span) => span.spanId))
  const shown =
    /^(gen_ai\.(request\.model|response\.(id|finish_reasons)|usage\.(input|output)_tokens|tool\.(name|call\.id)|provider\.name)|error\.type|data_harness\.attempt)$/
  const walk = (span: Json, depth: number) => {
    const ms = (Number(BigInt(span.endTimeUnixNano) - BigInt(span.startTimeUnixNano)) / 1e6).toFixed(1)
    const attributes = Object.entries(attributesOf(span.attributes))
      .filter(([key]) => shown.test(key))
      .map(([key, value]) => `${key.replace(/^gen_ai\./, "")}=${JSON.stringify(value)}`)
    console.log(`${"  ".repeat(depth)}${span.name} (${ms} ms) ${attributes.join(" ")}`)
    for (const event of span.events ?? []) {
      if (event.name === "exception") continue
      console.log(`${"  ".repeat(depth + 1)}event ${event.name} ${JSON.stringify(attributesOf(event.attributes))}`)
    }
    const children = spans
      .filter((child) => child.parentSpanId === span.spanId)
      .sort((a, b) => Number(BigInt(a.startTimeUnixNano) - BigInt(b.startTimeUnixNano)))
    for (const child of children) walk(child, depth + 1)
  }
  for (const root of spans.filter((span) => !ids.has(span.parentSpanId))) walk(root, 0)
}

const printMetrics = () => {
  const last = received.filter((post) => post.path === "/v1/metrics").at(-1)
  const metrics: Array<Json> = (last?.body.resourceMetrics ?? []).flatMap((rm: Json) =>
    rm.scopeMetrics.flatMap((sm: Json) => sm.metrics)
  )
  for (const metric of metrics.filter((m) => m.name.startsWith("gen_ai."))) {
    for (const point of metric.histogram?.dataPoints ?? []) {
      const { unit: _unit, ...attributes } = attributesOf(point.attributes)
      const by = ["gen_ai.token.type", "gen_ai.tool.name", "error.type"]
        .filter((key) => attributes[key] !== undefined)
        .map((key) => `${key}=${attributes[key]}`)
      console.log(`${metric.name} ${by.join(" ")}: count ${point.count}, sum ${point.sum} ${metric.unit}`)
    }
  }
}

// the run

const lookup = Tool.make("lookup", {
  description: "Looks a region's revenue up.",
  parameters: Schema.Struct({ region: Schema.String }),
  handler: ({ region }) => Effect.as(Effect.sleep("20 millis"), `${region}: 22140.06`)
})

const forecast = Tool.make("forecast", {
  description: "Forecasts next quarter (broken today).",
  parameters: Schema.Struct({ region: Schema.String }),
  handler: () => Effect.fail("the forecast service is down")
})

const model = Mock.layer({
  headersDelay: "30 millis",
  eventDelay: "1 millis",
  chunkSize: 8,
  turns: [
    Mock.fail(
      new HarnessError.ProviderError({ reason: "Overloaded", provider: "mock", status: 529, message: "Overloaded" })
    ),
    {
      text: "Looking it up. ",
      toolCalls: [
        { name: "lookup", input: { region: "West" } },
        { name: "forecast", input: { region: "West" } }
      ],
      usage: { inputTokens: 420, outputTokens: 38, cacheReadTokens: 1800 }
    },
    Mock.text("West had 22,140.06 in revenue; the forecast is unavailable.", {
      inputTokens: 95,
      outputTokens: 17,
      cacheReadTokens: 2260
    })
  ]
})

const program = Effect.gen(function* () {
  const agent = yield* Agent.make({
    system: "You are a data analyst.",
    tools: [lookup, forecast],
    builtinTools: false,
    retry: { schedule: Schedule.spaced("50 millis") }
  })
  const result = yield* agent.runResult("How much did West sell, and what is the forecast?")
  console.log(`answer: ${result.text}\n(${result.turns} turns, ${result.attempts} model calls)\n`)
})

const main = async () => {
  const endpoint = process.env.OTEL_EXPORTER_OTLP_ENDPOINT
  let url = endpoint
  if (url === undefined) {
    await new Promise<void>((resolve) => receiver.listen(0, "127.0.0.1", resolve))
    url = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}`
  }
  console.log(
    `exporting OTLP/HTTP to ${url}${endpoint === undefined ? " (the receiver built into this program)" : ""}\n`
  )
  // the layer closes when the program ends, and sends what it holds before it does
  await Effect.runPromise(
    program.pipe(
      Effect.provide(model),
      Effect.provide(
        Telemetry.layerOtlp({
          url,
          serviceName: "telemetry-scratchpad",
          captureContent: process.env.CAPTURE_CONTENT === "1"
        })
      )
    )
  )
  if (endpoint === undefined) {
    printTree()
    console.log("")
    printMetrics()
    receiver.close()
  } else {
    console.log(`sent; look for service "telemetry-scratchpad" in your backend`)
  }
}

main().catch((error) => {
  console.error(error)
  process.exitCode = 1
})
