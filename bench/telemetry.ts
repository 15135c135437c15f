/**
 * What tracing costs: the same work with tracing off (Effect's built-in tracer: the harness
 * records nothing) and on (`Telemetry.layerOtlp` exporting every span and metric over OTLP/HTTP
 * to a local receiver in this process, which reads and drops the bodies).
 *
 * - `streaming`: one Anthropic SSE response of N text deltas through `agent.runStream` over
 *   `Anthropic.layer` at the bench server, events/s. Telemetry does no per-event work (spans are
 *   per ask, per attempt and per tool call), so the target is on/off <= 1.10 in wall time.
 * - `agent loop`: asks of 10 model turns, each but the last calling a no-op tool (a scripted
 *   provider, no network): turns/s, and what tracing adds per turn (one `chat` and one
 *   `execute_tool` span, their metrics, the ask's share of its `invoke_agent` span).
 *
 * Each repetition runs both contenders in rotating order; figures are medians, ratios are taken
 * within a repetition. Run alone: `npx tsx bench/telemetry.ts [n=1000000] [repetitions=3]`.
 * @since 0.3.0
 */
import * as Http from "node:http"
import type { AddressInfo } from "node:net"
import { pathToFileURL } from "node:url"
import { Effect, Layer, ManagedRuntime, Schema, Stream } from "effect"
import { Agent, Mock, type Provider, Telemetry, Tool } from "../src/index.js"
import { agentFor } from "./util/contenders.js"
import { type BenchServer, startServer } from "./util/server.js"
import { FRAME_EVENTS } from "./util/sse.js"
import { collectGarbage, formatTable, median, type Row, rotations } from "./util/stats.js"

type Contender = "tracing off" | "tracing on (OTLP JSON)" | "tracing on (OTLP protobuf)"
const CONTENDERS: ReadonlyArray<Contender> = ["tracing off", "tracing on (OTLP JSON)", "tracing on (OTLP protobuf)"]
const TRACED: ReadonlyArray<Exclude<Contender, "tracing off">> = [
  "tracing on (OTLP JSON)",
  "tracing on (OTLP protobuf)"
]
const TARGET = 1.1
const TURNS_PER_ASK = 10

/** An OTLP/HTTP receiver that reads each export and drops it; counts what it got. */
const startReceiver = async () => {
  let posts = 0
  const server = Http.createServer((req, res) => {
    req.on("data", () => {})
    req.on("end", () => {
      posts++
      res.writeHead(200, { "content-type": "application/json" }).end("{}")
    })
  })
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    posts: () => posts,
    stop: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections()
        server.close(() => resolve())
      })
  }
}

/** How each contender runs an effect: plainly, or in a runtime whose layer is the OTLP exporter. */
const runners = (url: string) => {
  const runtime = (encoding: "json" | "protobuf") =>
    ManagedRuntime.make(Telemetry.layerOtlp({ url, serviceName: "bench", encoding }).pipe(Layer.orDie))
  const json = runtime("json")
  const protobuf = runtime("protobuf")
  const run: Record<Contender, <A, E>(effect: Effect.Effect<A, E>) => Promise<A>> = {
    "tracing off": (effect) => Effect.runPromise(effect),
    "tracing on (OTLP JSON)": (effect) => json.runPromise(effect),
    "tracing on (OTLP protobuf)": (effect) => protobuf.runPromise(effect)
  }
  return { run, dispose: () => Promise.all([json.dispose(), protobuf.dispose()]) }
}

/** Times `work` for each contender, `repetitions` times in rotating order. */
const measure = async <A>(
  repetitions: number,
  work: (contender: Contender) => Promise<A>
): Promise<Array<Record<Contender, { readonly wallMs: number; readonly cpuMs: number; readonly value: A }>>> => {
  for (const contender of CONTENDERS) await work(contender) // warm-up, unmeasured
  const reps: Array<Record<Contender, { readonly wallMs: number; readonly cpuMs: number; readonly value: A }>> = []
  for (const order of rotations(CONTENDERS, repetitions)) {
    const rep = {} as Record<Contender, { readonly wallMs: number; readonly cpuMs: number; readonly value: A }>
    for (const contender of order) {
      collectGarbage()
      const cpu0 = process.cpuUsage()
      const t0 = performance.now()
      const value = await work(contender)
      const wallMs = performance.now() - t0
      const cpu = process.cpuUsage(cpu0)
      rep[contender] = { wallMs, cpuMs: (cpu.user + cpu.system) / 1000, value }
    }
    reps.push(rep)
  }
  return reps
}

/** Each traced contender against tracing off, within each repetition: wall time and client CPU. */
const ratioRows = (
  benchmark: string,
  reps: ReadonlyArray<Record<Contender, { readonly wallMs: number; readonly cpuMs: number }>>,
  target: number | undefined
): Array<Row> =>
  TRACED.flatMap((on): Array<Row> => {
    const name = on.slice("tracing on ".length)
    const wall = reps.map((rep) => rep[on].wallMs / rep["tracing off"].wallMs)
    const cpu = reps.map((rep) => rep[on].cpuMs / rep["tracing off"].cpuMs)
    return [
      {
        benchmark,
        contender: `on ${name} / off (wall time)`,
        value: median(wall),
        unit: "x",
        ...(target !== undefined ? { target: `<= ${target}`, ok: median(wall) <= target } : {}),
        detail: wall
      },
      { benchmark, contender: `on ${name} / off (client CPU)`, value: median(cpu), unit: "x", detail: cpu }
    ]
  })

/** N deltas through `agent.runStream` over the Anthropic adapter, tracing off and on. */
const streaming = async (
  server: BenchServer,
  run: Record<Contender, <A, E>(effect: Effect.Effect<A, E>) => Promise<A>>,
  n: number,
  repetitions: number
): Promise<Array<Row>> => {
  const agent = agentFor(server.url, `stream:${n}`)
  const read = (contender: Contender) => {
    let count = 0
    return run[contender](
      agent.runStream("Say something long.").pipe(
        Stream.runForEach(() =>
          Effect.sync(() => {
            count++
          })
        ),
        Effect.map(() => count)
      )
    )
  }
  const reps = await measure(repetitions, async (contender) => {
    const events = await read(contender)
    if (events !== n + FRAME_EVENTS) throw new Error(`${contender} read ${events} events, expected ${n + FRAME_EVENTS}`)
    return events
  })
  const benchmark = `telemetry: streaming N=${n.toLocaleString("en-US")}`
  return [
    ...CONTENDERS.map(
      (contender): Row => ({
        benchmark,
        contender,
        value: median(reps.map((rep) => (rep[contender].value / rep[contender].wallMs) * 1000)),
        unit: "events/s",
        detail: { wallMs: reps.map((rep) => rep[contender].wallMs), cpuMs: reps.map((rep) => rep[contender].cpuMs) }
      })
    ),
    ...ratioRows(benchmark, reps, TARGET)
  ]
}

const noop = Tool.make("noop", {
  description: "Does nothing.",
  parameters: Schema.Struct({}),
  handler: () => Effect.void
})

const loopAgent = (): Agent.Agent => {
  const provider = Layer.orDie(
    Mock.layer({
      turns: [
        Mock.reply(({ messages }) =>
          messages.filter((m) => m.role === "assistant").length + 1 < TURNS_PER_ASK
            ? { toolCalls: [{ name: "noop", input: {} }], usage: { inputTokens: 10, outputTokens: 5 } }
            : { text: "done", usage: { inputTokens: 10, outputTokens: 5 } }
        )
      ]
    })
  ) as Layer.Layer<Provider.Provider>
  return Effect.runSync(
    Agent.make({ tools: [noop], builtinTools: false, maxTurns: TURNS_PER_ASK + 5 }).pipe(Effect.provide(provider))
  )
}

/** Asks of ten turns through the loop, tracing off and on. */
const loop = async (
  run: Record<Contender, <A, E>(effect: Effect.Effect<A, E>) => Promise<A>>,
  asks: number,
  repetitions: number
): Promise<Array<Row>> => {
  const reps = await measure(repetitions, async (contender) => {
    let turns = 0
    // a fresh scripted provider every 50 asks keeps its request log small
    for (let done = 0; done < asks; done += 50) {
      const agent = loopAgent()
      turns += await run[contender](
        Effect.gen(function* () {
          let sum = 0
          for (let i = 0; i < Math.min(50, asks - done); i++) sum += (yield* agent.runResult("Go.")).turns
          return sum
        })
      )
    }
    return turns
  })
  const benchmark = `telemetry: agent loop (${TURNS_PER_ASK} turns/ask, no-op tool)`
  const perSecond = (contender: Contender) =>
    median(reps.map((rep) => (rep[contender].value / rep[contender].wallMs) * 1000))
  /** Client CPU microseconds per turn. */
  const cpuPerTurn = (contender: Contender) =>
    median(reps.map((rep) => (rep[contender].cpuMs * 1000) / rep[contender].value))
  return [
    ...CONTENDERS.map((contender): Row => ({ benchmark, contender, value: perSecond(contender), unit: "turns/s" })),
    ...TRACED.map(
      (on): Row => ({
        benchmark,
        contender: `${on.slice("tracing ".length)} adds per turn (client CPU)`,
        value: cpuPerTurn(on) - cpuPerTurn("tracing off"),
        unit: "us"
      })
    ),
    ...ratioRows(benchmark, reps, undefined)
  ]
}

/**
 * The telemetry rows: streaming N deltas and the agent loop, tracing off and on.
 * @since 0.3.0
 */
export const benchTelemetry = async (
  server: BenchServer,
  options: { readonly n: number; readonly asks: number; readonly repetitions: number }
): Promise<ReadonlyArray<Row>> => {
  const receiver = await startReceiver()
  const { run, dispose } = runners(receiver.url)
  try {
    const rows = [
      ...(await streaming(server, run, options.n, options.repetitions)),
      ...(await loop(run, options.asks, options.repetitions))
    ]
    await dispose()
    if (receiver.posts() === 0) throw new Error("the OTLP receiver got nothing: tracing was not on")
    return rows
  } finally {
    await receiver.stop()
  }
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const server = await startServer()
  try {
    const rows = await benchTelemetry(server, {
      n: Number(process.argv[2] ?? 1_000_000),
      asks: Number(process.argv[4] ?? 500),
      repetitions: Number(process.argv[3] ?? 3)
    })
    console.log(formatTable(rows))
  } finally {
    await server.stop()
  }
}
