/**
 * Concurrency: 1,000 sessions streaming at once, each delta delayed like a real model (20 ms).
 * For every delta the consumer takes its arrival time minus its send time (p50 / p99 gap), and
 * the client's CPU time for the whole run is reported.
 *
 * - `scripted`: the scripted provider (`Mock.make`) paced like a model on the real clock: after a
 *   random phase, delta k of a stream is due at `start + k * 20 ms`; the provider sleeps until
 *   then (Effect's `Clock`) and stamps the due time into the text. The gap is therefore timer
 *   lateness plus everything between the provider and the consumer, and it grows if the consumer
 *   falls behind the schedule, as it would behind a real model. (Mock's own `eventDelay` sleeps
 *   20 ms after each pull instead, which hides a slow consumer.)
 * - `harness (SSE)`: the bench server (another process) writes one delta every 20 ms per
 *   connection, at a random phase, stamping its send time into the text; 1,000
 *   `agent.runStream` calls over one `Anthropic.layer` read them.
 * - `sdk (SSE)`: the same server and load through 1,000 raw SDK streams, for reference.
 * - `... (SSE, staggered ends)`: the same, but stream i has 50 + (i mod 101) deltas (still 100
 *   on average), so the streams end over 2 s instead of within about a quarter second. Every
 *   run has a cost at its end (the turn folded and committed, the stream's scopes closed), and
 *   when 1,000 runs end together that cost lands at once; the staggered rows separate the
 *   per-delta latency from that burst. The target is judged on the scenario (all
 *   streams the same length).
 *
 * The server runs at the lowest scheduling priority (see `util/server.ts`): it stands in for a
 * remote API, and at 50,000 writes a second it would otherwise take CPU from the client it serves.
 *
 * Both processes stamp and read the machine-wide monotonic clock (`process.hrtime`).
 * `@anthropic-ai/sdk` uses the global `fetch` (undici), whose default pool has no connection
 * limit per origin, so 1,000 streams are 1,000 connections.
 *
 * Every stream's first delta is due 1 s after its request (a model's time to first token), so the
 * burst of 1,000 connections and requests is over before the deltas flow; without it, setting up
 * 1,000 connections at once delays the first deltas of every contender by hundreds of ms.
 * The scenarios run `repetitions` times in rotating order; figures are medians over runs.
 *
 * Run alone: `npx tsx bench/concurrency.ts [sessions=1000] [deltas=100] [repetitions=5]`.
 * @since 0.1.0
 */
import { pathToFileURL } from "node:url"
import AnthropicSdk from "@anthropic-ai/sdk"
import { Effect, Layer, Stream } from "effect"
import { Agent, Mock, Provider, type StreamEvent } from "../src/index.js"
import * as Anthropic from "../src/provider/anthropic/Anthropic.js"
import { nowMs } from "./util/clock.js"
import { type BenchServer, startServer } from "./util/server.js"
import { collectGarbage, formatTable, median, percentile, type Row, rotations } from "./util/stats.js"

const INTERVAL_MS = 20
/** With staggered ends, stream i has `deltas - SPREAD + (i % (2 * SPREAD + 1))` deltas (the same mean). */
const SPREAD = 50
/** Time to first token: the first delta of every stream is due this long (plus a random phase) after its request. */
const FIRST_MS = 1000
const TARGET_P99_MS = 50
const PROMPT = "Stream to me."

/**
 * What one concurrent run measured.
 * @since 0.1.0
 */
export interface RunResult {
  /** How many deltas the run's streams carry in all. */
  readonly expected: number
  readonly gaps: Float64Array
  readonly arrivals: Float64Array
  readonly wallMs: number
  readonly cpuMs: number
}

/** Collects the gap of every stamped delta (`t=<ms>;`). */
class Gaps {
  readonly values: Float64Array
  /** Arrival times, for looking at gaps over the run. */
  readonly arrivals: Float64Array
  count = 0
  constructor(size: number) {
    this.values = new Float64Array(size)
    this.arrivals = new Float64Array(size)
  }
  record(text: string, arrived: number) {
    if (text.charCodeAt(0) !== 116 /* t */) return
    const sent = Number.parseFloat(text.slice(2))
    if (this.count < this.values.length) {
      this.arrivals[this.count] = arrived
      this.values[this.count++] = arrived - sent
    }
  }
  result(wallMs: number, cpuMs: number): RunResult {
    return {
      expected: this.values.length,
      gaps: this.values.subarray(0, this.count),
      arrivals: this.arrivals.subarray(0, this.count),
      wallMs,
      cpuMs
    }
  }
}

const measured = async (gaps: Gaps, run: () => Promise<void>): Promise<RunResult> => {
  collectGarbage()
  const cpu0 = process.cpuUsage()
  const t0 = performance.now()
  await run()
  const wallMs = performance.now() - t0
  const cpu = process.cpuUsage(cpu0)
  return gaps.result(wallMs, (cpu.user + cpu.system) / 1000)
}

const deltaText = (event: StreamEvent.StreamEvent): string | undefined =>
  event.type === "content_block_delta" && event.delta.type === "text_delta"
    ? (event.delta as { readonly text: string }).text
    : undefined

const consume = (agentOf: (i: number) => Agent.Agent, sessions: number, gaps: Gaps) =>
  Effect.runPromise(
    Effect.forEach(
      Array.from({ length: sessions }, (_, i) => i),
      (i) =>
        agentOf(i)
          .runStream(PROMPT)
          .pipe(
            Stream.runForEach((event) =>
              Effect.sync(() => {
                const text = deltaText(event)
                if (text !== undefined) gaps.record(text, nowMs())
              })
            )
          ),
      { concurrency: "unbounded", discard: true }
    )
  )

/**
 * The scripted provider (`Mock.make`, one delta per character) paced like a model: delta k of a
 * stream is due `k * 20 ms` after a random phase; each is stamped with its due time.
 * @since 0.1.0
 */
export const scriptedLayer = (deltas: number): Layer.Layer<Provider.Provider> =>
  Layer.effect(
    Provider.Provider,
    Effect.map(Effect.orDie(Mock.make({ turns: [Mock.text("x".repeat(deltas))], chunkSize: 1 })), ({ service }) =>
      Provider.Provider.of({
        ...service,
        stream: (request) =>
          Stream.suspend(() => {
            const start = nowMs() + FIRST_MS + Math.random() * INTERVAL_MS
            let sent = 0
            return Stream.mapEffect(service.stream(request), (event): Effect.Effect<StreamEvent.ProviderEvent> => {
              if (event.type !== "content_block_delta") return Effect.succeed(event)
              const due = start + sent++ * INTERVAL_MS
              const stamped: StreamEvent.ProviderEvent = { ...event, delta: { type: "text_delta", text: `t=${due};` } }
              const wait = due - nowMs()
              return wait > 0 ? Effect.as(Effect.sleep(wait), stamped) : Effect.succeed(stamped)
            })
          })
      })
    )
  )

/**
 * 1,000 sessions on the scripted provider.
 * @since 0.1.0
 */
export const runScripted = (sessions: number, deltas: number): Promise<RunResult> => {
  const agent = Effect.runSync(Agent.make().pipe(Effect.provide(scriptedLayer(deltas))))
  const gaps = new Gaps(sessions * deltas)
  return measured(gaps, () => consume(() => agent, sessions, gaps))
}

/**
 * The number of deltas of stream `i`: `deltas` for all, or staggered around it so that the
 * streams end at different times.
 */
const lengthOf = (deltas: number, staggered: boolean) => (i: number) =>
  staggered ? deltas - SPREAD + (i % (2 * SPREAD + 1)) : deltas

const total = (sessions: number, length: (i: number) => number) => {
  let sum = 0
  for (let i = 0; i < sessions; i++) sum += length(i)
  return sum
}

const pacedModel = (deltas: number) => `paced:${deltas}:${INTERVAL_MS}:${FIRST_MS}`

/**
 * 1,000 sessions over `Anthropic.layer` at the bench server (one agent per stream length, as the
 * bench server reads the length from the model name).
 * @since 0.1.0
 */
export const runHarnessSse = (
  server: BenchServer,
  sessions: number,
  deltas: number,
  staggered = false
): Promise<RunResult> => {
  const length = lengthOf(deltas, staggered)
  const agents = new Map<number, Agent.Agent>()
  const agentFor = (n: number) => {
    let agent = agents.get(n)
    if (agent === undefined) {
      agent = Effect.runSync(
        Agent.make().pipe(
          Effect.provide(Anthropic.layer({ model: pacedModel(n), apiKey: "sk-ant-bench", baseURL: server.url }))
        )
      )
      agents.set(n, agent)
    }
    return agent
  }
  const gaps = new Gaps(total(sessions, length))
  return measured(gaps, () => consume((i) => agentFor(length(i)), sessions, gaps))
}

/**
 * 1,000 raw SDK streams at the bench server.
 * @since 0.1.0
 */
export const runSdkSse = (
  server: BenchServer,
  sessions: number,
  deltas: number,
  staggered = false
): Promise<RunResult> => {
  const client = new AnthropicSdk({ apiKey: "sk-ant-bench", baseURL: server.url, maxRetries: 0 })
  const length = lengthOf(deltas, staggered)
  const gaps = new Gaps(total(sessions, length))
  const one = async (i: number) => {
    const stream = await client.messages.create({
      model: pacedModel(length(i)),
      max_tokens: 4096,
      messages: [{ role: "user", content: PROMPT }],
      stream: true
    })
    for await (const event of stream) {
      if (event.type === "content_block_delta" && event.delta.type === "text_delta") {
        gaps.record(event.delta.text, nowMs())
      }
    }
  }
  return measured(gaps, () => Promise.all(Array.from({ length: sessions }, (_, i) => one(i))).then(() => undefined))
}

/**
 * Runs the scenarios `repetitions` times in rotating order and returns the table rows:
 * medians over the repetitions of each run's p50, p99 and client CPU.
 * @since 0.1.0
 */
export const benchConcurrency = async (
  server: BenchServer,
  options: { readonly sessions: number; readonly deltas: number; readonly repetitions: number }
): Promise<ReadonlyArray<Row>> => {
  const { sessions, deltas } = options
  type Contender =
    | "harness (scripted)"
    | "sdk (SSE)"
    | "harness (SSE)"
    | "sdk (SSE, staggered ends)"
    | "harness (SSE, staggered ends)"
  const runs: Record<Contender, (sessions: number, deltas: number, warmUp: boolean) => Promise<RunResult>> = {
    "harness (scripted)": runScripted,
    "sdk (SSE)": (sessions, deltas) => runSdkSse(server, sessions, deltas),
    "harness (SSE)": (sessions, deltas) => runHarnessSse(server, sessions, deltas),
    "sdk (SSE, staggered ends)": (sessions, deltas, warmUp) => runSdkSse(server, sessions, deltas, !warmUp),
    "harness (SSE, staggered ends)": (sessions, deltas, warmUp) => runHarnessSse(server, sessions, deltas, !warmUp)
  }
  const contenders = Object.keys(runs) as ReadonlyArray<Contender>
  // warm-up: JIT and connection pool
  for (const contender of contenders) await runs[contender](100, 5, true)
  const results = new Map<Contender, Array<RunResult>>(contenders.map((c) => [c, []]))
  for (const order of rotations(contenders, options.repetitions)) {
    for (const contender of order) {
      const result = await runs[contender](sessions, deltas, false)
      if (result.gaps.length !== result.expected) {
        throw new Error(`${contender}: ${result.gaps.length} of ${result.expected} deltas`)
      }
      results.get(contender)!.push(result)
    }
  }
  const benchmark = `concurrency ${sessions.toLocaleString("en-US")} x ${deltas} deltas @${INTERVAL_MS}ms`
  const rows: Array<Row> = []
  for (const contender of contenders) {
    const all = results.get(contender)!
    // the target is the scenario: every stream 100 deltas long, so all end together
    const isHarness = contender.startsWith("harness") && !contender.includes("staggered")
    const p99s = all.map((r) => percentile(r.gaps, 99))
    const p99 = median(p99s)
    rows.push({
      benchmark,
      contender: `${contender} gap p50`,
      value: median(all.map((r) => percentile(r.gaps, 50))),
      unit: "ms"
    })
    rows.push({
      benchmark,
      contender: `${contender} gap p99`,
      value: p99,
      unit: "ms",
      ...(isHarness ? { target: `< ${TARGET_P99_MS}`, ok: p99 < TARGET_P99_MS } : {}),
      detail: { p99s, max: all.map((r) => percentile(r.gaps, 100)), wallMs: all.map((r) => r.wallMs) }
    })
    rows.push({ benchmark, contender: `${contender} client CPU`, value: median(all.map((r) => r.cpuMs)), unit: "ms" })
  }
  return rows
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const server = await startServer()
  try {
    const sessions = Number(process.argv[2] ?? 1000)
    const deltas = Number(process.argv[3] ?? 100)
    const repetitions = Number(process.argv[4] ?? 5)
    console.log(formatTable(await benchConcurrency(server, { sessions, deltas, repetitions })))
  } finally {
    await server.stop()
  }
}
