/**
 * The Anthropic adapter alone, against raw `@anthropic-ai/sdk` iteration and against library
 * versions of its two hand-written parts, on the same bytes from the bench server (its own
 * process). Section `anthropic` of `npm run bench`, or alone:
 * `tsx bench/anthropic-adapter.ts [deltas=200000] [repetitions=7] [contenders,...]`.
 *
 * | contender | transport | SSE parser |
 * | --- | --- | --- |
 * | `sdk` | the SDK's (global `fetch`) | the SDK's |
 * | `adapter` | ours (`node:http`, `http/nodeFetch.ts`) | ours (`anthropic/sseReader.ts`) |
 * | `adapter, fetch` | global `fetch` (`transport: "fetch"`) | ours |
 * | `lib SSE` | ours | `effect/encoding/Sse` |
 * | `lib NodeHttpClient` | `NodeHttpClient.layerNodeHttp` (@effect/platform-node) | `effect/encoding/Sse` |
 * | `lib FetchHttpClient` | `FetchHttpClient.layer` (effect) | `effect/encoding/Sse` |
 *
 * Every contender but `sdk` validates each event with `StreamEvent.decodeWire`, as the adapter
 * does. Two measures: client CPU per event reading one response of N deltas, and the delivery
 * gap (p50/p99) and client CPU with 1,000 paced streams at once (the scenario that decided the
 * hand-written parts; see the README's Performance section).
 * @since 0.1.0
 */
import { pathToFileURL } from "node:url"
import AnthropicSdk from "@anthropic-ai/sdk"
import * as NodeHttpClient from "@effect/platform-node/NodeHttpClient"
import { Cause, Context, Effect, Exit, Layer, Redacted, Scope, Stream } from "effect"
import * as Sse from "effect/encoding/Sse"
import { FetchHttpClient, HttpClient, HttpClientRequest } from "effect/http"
import * as Message from "../src/core/Message.js"
import * as StreamEvent from "../src/core/StreamEvent.js"
import * as Anthropic from "../src/provider/anthropic/Anthropic.js"
import * as NodeFetch from "../src/provider/http/nodeFetch.js"
import * as Provider from "../src/provider/Provider.js"
import { nowMs } from "./util/clock.js"
import { type BenchServer, startServer } from "./util/server.js"
import { collectGarbage, median, percentile, type Row, rotations } from "./util/stats.js"

const KEY = "sk-ant-bench"
const PROMPT = "Say something long."

/** One way of reading a response of `model` to the end: calls `onEvent` per event, resolves with the count. */
type Reader = (model: string, onEvent?: (event: StreamEvent.ProviderEvent) => void) => Promise<number>

// library pieces

/** Raw SSE events to provider events, validated as the adapter validates them. */
const decodeEvents = <E, R>(
  text: Stream.Stream<string, E, R>
): Stream.Stream<StreamEvent.ProviderEvent, E | Sse.Retry | Sse.SseError | Error, R> =>
  text.pipe(
    Stream.pipeThroughChannel(Sse.decode()),
    Stream.filter((event) => event.event !== "ping" && event.data.length > 0),
    Stream.mapEffect((event) => {
      const decoded = StreamEvent.decodeWire(JSON.parse(event.data))
      return decoded._tag === "Event"
        ? Effect.succeed<StreamEvent.ProviderEvent | undefined>(decoded.event)
        : decoded._tag === "Skip"
          ? Effect.succeed(undefined)
          : Effect.fail(new Error(decoded._tag))
    }),
    Stream.filter((event): event is StreamEvent.ProviderEvent => event !== undefined)
  )

/** A Node body (our transport) as a `Stream` of bytes, one pull per network read. */
const nodeBodyStream = (body: NodeFetch.NodeBody): Stream.Stream<Uint8Array, unknown> =>
  Stream.fromPull(
    Effect.succeed(
      Effect.callback<readonly [Uint8Array], unknown | Cause.Done>((resume) =>
        body.next(
          (chunk) => resume(chunk === undefined ? Cause.done() : Effect.succeed([chunk] as const)),
          (error) => resume(Effect.fail(error))
        )
      )
    )
  )

const count = <E>(
  events: Stream.Stream<StreamEvent.ProviderEvent, E>,
  onEvent?: (e: StreamEvent.ProviderEvent) => void
) =>
  Effect.suspend(() => {
    let n = 0
    return events.pipe(
      Stream.runForEachArray((batch) => {
        n += batch.length
        if (onEvent !== undefined) for (const event of batch) onEvent(event)
        return Effect.void
      }),
      Effect.map(() => n)
    )
  })

const body = (model: string) => ({
  model,
  max_tokens: 4096,
  messages: [{ role: "user", content: PROMPT }],
  stream: true
})

/** A library `HttpClient` posting the request itself, its body read with `effect/encoding/Sse`. */
const libraryReader =
  (client: HttpClient.HttpClient, url: string): Reader =>
  (model, onEvent) =>
    Effect.runPromise(
      count(
        decodeEvents(
          Stream.unwrap(
            Effect.map(
              client.execute(
                HttpClientRequest.post(`${url}/v1/messages`).pipe(
                  HttpClientRequest.setHeaders({ "x-api-key": KEY, "anthropic-version": "2023-06-01" }),
                  HttpClientRequest.bodyJsonUnsafe(body(model))
                )
              ),
              (response) => response.stream
            )
          ).pipe(Stream.decodeText())
        ),
        onEvent
      )
    )

/** Our transport through the SDK (as the adapter sends), its body read with `effect/encoding/Sse`. */
const libSseReader = (url: string, fetch: NodeFetch.NodeFetch): Reader => {
  const client = new AnthropicSdk({ apiKey: KEY, baseURL: url, maxRetries: 0, fetch })
  return async (model, onEvent) => {
    const response = await client.messages
      .create({ model, max_tokens: 4096, messages: [{ role: "user", content: PROMPT }], stream: true })
      .asResponse()
    const node = NodeFetch.takeNodeBody(response)!
    return Effect.runPromise(count(decodeEvents(nodeBodyStream(node).pipe(Stream.decodeText())), onEvent))
  }
}

const providerReader =
  (provider: Provider.Service): Reader =>
  (model, onEvent) =>
    Effect.runPromise(count(provider.stream({ model, messages: [Message.user(PROMPT)], tools: [] }), onEvent))

const sdkReader = (url: string): Reader => {
  const client = new AnthropicSdk({ apiKey: KEY, baseURL: url, maxRetries: 0 })
  return async (model, onEvent) => {
    let n = 0
    const stream = await client.messages.create({
      model,
      max_tokens: 4096,
      messages: [{ role: "user", content: PROMPT }],
      stream: true
    })
    for await (const event of stream) {
      n++
      onEvent?.(event as StreamEvent.ProviderEvent)
    }
    return n
  }
}

/** Every contender, built once in `scope` (pools kept across repetitions, as in use). */
const makeReaders = (server: BenchServer, scope: Scope.Scope) =>
  Effect.gen(function* () {
    const provider = (transport: "node" | "fetch") =>
      Effect.map(
        Layer.buildWithScope(
          Anthropic.layer({ model: "unused", apiKey: Redacted.make(KEY), baseURL: server.url, transport }),
          scope
        ),
        (context) => Context.get(context, Provider.Provider)
      )
    const httpClient = (layer: Layer.Layer<HttpClient.HttpClient>) =>
      Effect.map(Layer.buildWithScope(layer, scope), (context) => Context.get(context, HttpClient.HttpClient))
    const fetch = NodeFetch.make()
    yield* Scope.addFinalizer(
      scope,
      Effect.sync(() => fetch.close())
    )
    const readers: Record<string, Reader> = {
      sdk: sdkReader(server.url),
      adapter: providerReader(yield* provider("node")),
      "adapter, fetch": providerReader(yield* provider("fetch")),
      "lib SSE": libSseReader(server.url, fetch),
      "lib NodeHttpClient": libraryReader(yield* httpClient(NodeHttpClient.layerNodeHttp), server.url),
      "lib FetchHttpClient": libraryReader(yield* httpClient(FetchHttpClient.layer), server.url)
    }
    return readers
  })

// measures

const cpuMs = (since: NodeJS.CpuUsage) => {
  const used = process.cpuUsage(since)
  return (used.user + used.system) / 1000
}

/** Client CPU and wall time reading one response of `deltas` deltas, per contender. */
const throughput = async (
  readers: Record<string, Reader>,
  deltas: number,
  repetitions: number
): Promise<ReadonlyArray<Row>> => {
  const names = Object.keys(readers)
  const model = `stream:${deltas}`
  const cpu = new Map<string, Array<number>>(names.map((name) => [name, []]))
  const wall = new Map<string, Array<number>>(names.map((name) => [name, []]))
  for (const name of names) await readers[name]!(model) // warm up
  for (const order of rotations(names, repetitions)) {
    for (const name of order) {
      collectGarbage()
      const c0 = process.cpuUsage()
      const t0 = performance.now()
      const events = await readers[name]!(model)
      wall.get(name)!.push(performance.now() - t0)
      cpu.get(name)!.push(cpuMs(c0))
      if (events < deltas) throw new Error(`${name}: ${events} events for ${deltas} deltas`)
    }
  }
  const benchmark = `anthropic adapter N=${deltas.toLocaleString("en-US")}`
  const base = median(cpu.get("adapter")!)
  return names.flatMap((name): ReadonlyArray<Row> => {
    const ms = median(cpu.get(name)!)
    return [
      { benchmark, contender: `${name} client CPU per event`, value: (ms * 1e6) / deltas, unit: "ns" },
      { benchmark, contender: `${name} client CPU / adapter`, value: ms / base, unit: "x" },
      { benchmark, contender: `${name} wall`, value: median(wall.get(name)!), unit: "ms" }
    ]
  })
}

/** One run of `sessions` paced streams at once: every delta's gap (arrival minus send), and client CPU. */
const pacedRun = async (reader: Reader, sessions: number, deltas: number) => {
  const gaps: Array<number> = []
  const onEvent = (event: StreamEvent.ProviderEvent) => {
    if (event.type !== "content_block_delta") return
    const text = (event.delta as { readonly text?: string }).text
    if (text?.charCodeAt(0) === 116 /* t */) gaps.push(nowMs() - Number.parseFloat(text.slice(2)))
  }
  collectGarbage()
  const c0 = process.cpuUsage()
  await Promise.all(Array.from({ length: sessions }, () => reader(`paced:${deltas}:20:1000`, onEvent)))
  if (gaps.length !== sessions * deltas) throw new Error(`${gaps.length} of ${sessions * deltas} deltas`)
  return { gaps, cpu: cpuMs(c0) }
}

/** Delivery gap p50/p99 and client CPU with `sessions` streams of `deltas` deltas, 20 ms apart. */
const concurrency = async (
  readers: Record<string, Reader>,
  sessions: number,
  deltas: number,
  repetitions: number
): Promise<ReadonlyArray<Row>> => {
  const names = Object.keys(readers).filter((name) => name !== "sdk")
  const results = new Map<string, Array<{ gaps: Array<number>; cpu: number }>>(names.map((name) => [name, []]))
  for (const name of names) await pacedRun(readers[name]!, Math.min(sessions, 100), 5) // warm up, open the pools
  for (const order of rotations(names, repetitions)) {
    for (const name of order) results.get(name)!.push(await pacedRun(readers[name]!, sessions, deltas))
  }
  const benchmark = `anthropic adapter ${sessions.toLocaleString("en-US")} x ${deltas} deltas @20ms`
  return names.flatMap((name): ReadonlyArray<Row> => {
    const runs = results.get(name)!
    return [
      { benchmark, contender: `${name} gap p50`, value: median(runs.map((r) => percentile(r.gaps, 50))), unit: "ms" },
      { benchmark, contender: `${name} gap p99`, value: median(runs.map((r) => percentile(r.gaps, 99))), unit: "ms" },
      { benchmark, contender: `${name} client CPU`, value: median(runs.map((r) => r.cpu)), unit: "ms" }
    ]
  })
}

/**
 * The section: throughput at `deltas`, then `sessions` concurrent paced streams.
 * @since 0.1.0
 */
export const benchAnthropicAdapter = async (
  server: BenchServer,
  options: {
    readonly deltas: number
    readonly repetitions: number
    readonly sessions: number
    readonly pacedDeltas: number
    readonly pacedRepetitions: number
    readonly only?: ReadonlyArray<string> | undefined
  }
): Promise<ReadonlyArray<Row>> => {
  const scope = Effect.runSync(Scope.make())
  try {
    const all = await Effect.runPromise(makeReaders(server, scope))
    const readers = Object.fromEntries(
      Object.entries(all).filter(
        ([name]) => options.only === undefined || options.only.includes(name) || name === "adapter"
      )
    )
    return [
      ...(await throughput(readers, options.deltas, options.repetitions)),
      ...(options.sessions > 0
        ? await concurrency(readers, options.sessions, options.pacedDeltas, options.pacedRepetitions)
        : [])
    ]
  } finally {
    await Effect.runPromise(Scope.close(scope, Exit.void))
  }
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const { formatTable } = await import("./util/stats.js")
  const server = await startServer()
  try {
    const rows = await benchAnthropicAdapter(server, {
      deltas: Number(process.argv[2] ?? 200_000),
      repetitions: Number(process.argv[3] ?? 7),
      only: process.argv[4] ? process.argv[4].split(",") : undefined,
      sessions: Number(process.argv[5] ?? 1000),
      pacedDeltas: 100,
      pacedRepetitions: Number(process.argv[6] ?? 3)
    })
    console.log(formatTable(rows))
  } finally {
    await server.stop()
  }
}
