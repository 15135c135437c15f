/**
 * `npm run bench`: every benchmark of the harness in one run, printed as one table and written to
 * `bench/results.json`.
 *
 * | section | what |
 * | --- | --- |
 * | streaming | events/s reading one SSE response of N deltas: floor, raw SDK, `agent.runStream` |
 * | memory | peak RSS / heap growth while 1,000,000 deltas stream through `runStream` |
 * | deadlines | the pull deadlines (`withPullDeadlines`) against effect's per-pull timeouts: 1,000,000 events, and 1,000 streams at 20 ms/event |
 * | snapshots | 1,000,000 deltas through `Accumulate.summary` / `Accumulate.snapshots`: events/s, peak RSS growth |
 * | concurrency | 1,000 sessions streaming at once, 20 ms per delta: delivery gap p50/p99, CPU |
 * | interrupt | interrupting a streaming ask until the server sees its socket close, p50/p99 |
 * | loop | agent-loop turns per second, scripted provider and a no-op tool |
 * | openai | deltas/s reading one Chat Completions stream of N deltas: floor, raw `openai` SDK, `agent.runStream` |
 * | anthropic | the Anthropic adapter against the SDK and against library versions of its SSE parser and transport |
 * | telemetry | streaming N deltas and the agent loop with tracing off and on (`Telemetry.layerOtlp`, JSON and protobuf) |
 * | store | session store: commit latency p50/p99 per layer, concurrent commits, resume one of 10,000 sessions |
 * | server | the HTTP server: 1,000 SSE clients at 20 ms/event (gap p50/p99, server CPU); `/v1/messages` events/s to the SDK |
 * | cluster | sessions on 2 runner processes and Postgres: asks/s and latency with the scripted model; time from a runner's SIGKILL to its sessions answering elsewhere |
 * | duckdb, sandbox | the data tools' own benchmarks, when their modules are present |
 *
 * The SSE benchmarks talk to a local server in its own process (`bench/util/serverProcess.ts`),
 * which writes pre-rendered bytes. Flags: `--quick` (small sizes, to check that everything runs),
 * `--only=streaming,memory,...` (some sections), `--markdown` (also print a Markdown table).
 * @since 0.1.0
 */
import { writeFileSync } from "node:fs"
import * as Os from "node:os"
import { fileURLToPath } from "node:url"
import { benchAnthropicAdapter } from "./anthropic-adapter.js"
import { benchCluster } from "./cluster.js"
import { benchConcurrency } from "./concurrency.js"
import { benchDeadlines } from "./deadlines.js"
import { benchInterrupt } from "./interrupt.js"
import { benchLoop } from "./loop.js"
import { benchMemory } from "./memory.js"
import { benchOpenAI } from "./openai.js"
import { benchServer } from "./server.js"
import { benchSnapshots } from "./snapshots.js"
import { benchStore } from "./store.js"
import { benchStreaming } from "./streaming.js"
import { benchTelemetry } from "./telemetry.js"
import { startServer } from "./util/server.js"
import { formatMarkdown, formatTable, type Row } from "./util/stats.js"

const args = process.argv.slice(2)
const quick = args.includes("--quick")
const only = args
  .find((arg) => arg.startsWith("--only="))
  ?.slice("--only=".length)
  .split(",")
const wanted = (section: string) => only === undefined || only.includes(section)

interface Measurement {
  readonly name: string
  readonly value: number
  readonly unit: string
}

/** A benchmark module another engineer owns, if it is there: `benchDuckdb()`, `benchSandbox()`. */
const optional = async (
  file: string,
  exported: string
): Promise<(() => Promise<ReadonlyArray<Measurement>>) | undefined> => {
  const specifier: string = `./${file}`
  let module: Record<string, unknown>
  try {
    module = (await import(specifier)) as Record<string, unknown>
  } catch (error) {
    const code = (error as { readonly code?: unknown }).code
    if (code === "ERR_MODULE_NOT_FOUND" || code === "MODULE_NOT_FOUND") return undefined
    throw error
  }
  const bench = module[exported]
  return typeof bench === "function" ? (bench as () => Promise<ReadonlyArray<Measurement>>) : undefined
}

const started = performance.now()
const loadBefore = Os.loadavg()
const rows: Array<Row> = []
const sections: Array<{ readonly section: string; readonly seconds: number; readonly error?: string }> = []

const section = async (name: string, run: () => Promise<ReadonlyArray<Row>>) => {
  if (!wanted(name)) return
  const t0 = performance.now()
  process.stderr.write(`bench: ${name}...`)
  try {
    rows.push(...(await run()))
    sections.push({ section: name, seconds: (performance.now() - t0) / 1000 })
    process.stderr.write(` ${((performance.now() - t0) / 1000).toFixed(1)} s\n`)
  } catch (error) {
    const message = error instanceof Error ? (error.stack ?? error.message) : String(error)
    sections.push({ section: name, seconds: (performance.now() - t0) / 1000, error: message })
    process.stderr.write(` FAILED\n${message}\n`)
    process.exitCode = 1
  }
}

const fromMeasurements = (benchmark: string, measurements: ReadonlyArray<Measurement>): ReadonlyArray<Row> =>
  measurements.map((m) => ({ benchmark, contender: m.name, value: m.value, unit: m.unit }))

const server = await startServer()
try {
  await section("streaming", async () => [
    ...(await benchStreaming(server, { n: quick ? 20_000 : 100_000, repetitions: quick ? 2 : 5 })),
    ...(await benchStreaming(server, { n: quick ? 100_000 : 1_000_000, repetitions: 3 }))
  ])
  await section("memory", () => benchMemory(server, { n: quick ? 100_000 : 1_000_000, runs: quick ? 1 : 3 }))
  await section("concurrency", () =>
    benchConcurrency(server, { sessions: quick ? 100 : 1000, deltas: quick ? 20 : 100, repetitions: quick ? 1 : 5 })
  )
  await section("interrupt", () => benchInterrupt(server, quick ? 100 : 1000))
  await section("loop", () => benchLoop({ asks: quick ? 50 : 500, repetitions: 3 }))
  await section("openai", () => benchOpenAI({ n: quick ? 100_000 : 1_000_000, repetitions: 3 }))
  await section("anthropic", () =>
    benchAnthropicAdapter(server, {
      deltas: quick ? 20_000 : 200_000,
      repetitions: quick ? 2 : 5,
      sessions: quick ? 100 : 1000,
      pacedDeltas: quick ? 20 : 100,
      pacedRepetitions: quick ? 1 : 3
    })
  )
  await section("server", () =>
    benchServer(server, {
      clients: quick ? 100 : 1000,
      deltas: quick ? 20 : 100,
      repetitions: quick ? 1 : 3,
      messageDeltas: quick ? 10_000 : 100_000
    })
  )
  await section("telemetry", () =>
    benchTelemetry(server, { n: quick ? 100_000 : 1_000_000, asks: quick ? 50 : 300, repetitions: quick ? 2 : 3 })
  )
} finally {
  await server.stop()
}
await section("snapshots", () => benchSnapshots({ n: quick ? 100_000 : 1_000_000, runs: quick ? 1 : 3 }))
await section("deadlines", () =>
  benchDeadlines({
    n: quick ? 100_000 : 1_000_000,
    repetitions: quick ? 1 : 3,
    streams: quick ? 100 : 1000,
    events: quick ? 20 : 100
  })
)
await section("store", () =>
  benchStore({ commits: quick ? 200 : 1000, sessions: quick ? 500 : 10_000, asks: quick ? 100 : 500 })
)
await section("cluster", () =>
  benchCluster({ sessions: quick ? 50 : 200, rounds: quick ? 1 : 3, failovers: quick ? 1 : 2 })
)
await section("duckdb", async () => {
  const bench = await optional("duckdb.js", "benchDuckdb")
  return bench === undefined ? [] : fromMeasurements("duckdb", await bench())
})
await section("sandbox", async () => {
  const bench = await optional("sandbox.js", "benchSandbox")
  return bench === undefined ? [] : fromMeasurements("sandbox", await bench())
})

/** What ran as the harness: the build (`npm run bench` loads `bench/util/build.mjs`) or the sources. */
const measured = import.meta.resolve("../src/index.js").includes("/dist/")
  ? "the build (dist/)"
  : "the sources (src/, through tsx)"
const seconds = (performance.now() - started) / 1000
const loadAfter = Os.loadavg()
console.log(formatTable(rows))
if (args.includes("--markdown")) console.log(`\n${formatMarkdown(rows)}`)
console.log(
  `\n${seconds.toFixed(0)} s on ${Os.cpus().length} CPUs, node ${process.version}; harness: ${measured}; ` +
    `load average ${loadBefore[0]!.toFixed(2)} before, ${loadAfter[0]!.toFixed(2)} after ` +
    `(above ~0.5, other processes shared the machine: treat timings as noisy); ` +
    `bench server at ${server.priority} priority.`
)

const out = fileURLToPath(new URL("./results.json", import.meta.url))
writeFileSync(
  out,
  `${JSON.stringify(
    {
      date: new Date().toISOString(),
      node: process.version,
      platform: `${process.platform} ${process.arch}`,
      cpus: Os.cpus().length,
      cpuModel: Os.cpus()[0]?.model,
      loadAverage: { before: loadBefore, after: loadAfter },
      quick,
      harness: measured,
      serverPriority: server.priority,
      seconds,
      sections,
      rows
    },
    null,
    2
  )}\n`
)
console.log(`wrote ${out}`)
