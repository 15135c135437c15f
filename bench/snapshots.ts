/**
 * Accumulation: 1,000,000 text deltas of one turn streamed through `Accumulate.summary` (a
 * consumer that keeps only the summary), through `Accumulate.snapshots` (a consumer that keeps
 * none of them), through `Stream.runDrain` (the floor: the same stream, nothing folded) and,
 * for contrast, through `Stream.runCollect` (a consumer that keeps every event). Events/s and
 * the peak growth of RSS and heap over a baseline.
 *
 * The events are made in the process as the stream pulls them (a generator, 256 to a chunk, each
 * delta a fresh string of 5-7 characters as an SSE parser would make), so the input holds no
 * memory of its own: what grows is what the consumer keeps. The summary keeps the turn's text
 * (about 6 MB here, in flat strings joined 32 deltas at a time), never the events. Each contender
 * runs in a fresh child process: warm-up on 20,000 deltas, full GC, baseline, then the big
 * stream with RSS and heap sampled every 4,096 events; at 90% of the stream the child runs a
 * full GC and reports the heap still live over the baseline.
 *
 * Run alone: `npx tsx bench/snapshots.ts [n=1000000] [runs=3]`.
 * @since 0.2.0
 */
import { fork } from "node:child_process"
import { fileURLToPath, pathToFileURL } from "node:url"
import { Effect, Stream } from "effect"
import { Accumulate, type StreamEvent } from "../src/index.js"
import { childExecArgv } from "./util/server.js"
import { formatTable, median, type Row } from "./util/stats.js"

const MB = 1024 * 1024

type Contender = "drain" | "summary" | "snapshots" | "collect"

interface Result {
  readonly contender: Contender
  readonly events: number
  readonly seconds: number
  readonly peakRssGrowthMb: number
  readonly peakHeapGrowthMb: number
  readonly liveHeapMidStreamMb: number
  /** What the contender returned, checked so the work cannot be skipped. */
  readonly textLength: number
}

const gc = () => {
  const collect = (globalThis as { gc?: () => void }).gc
  if (collect === undefined) throw new Error("run the snapshots child with --expose-gc")
  collect()
  collect()
}

/** One turn of `n` text deltas, made as they are pulled; `onEvent` sees each event's number. */
function* turn(n: number, onEvent: (count: number) => void): Generator<StreamEvent.StreamEvent> {
  yield {
    type: "message_start",
    message: { id: "msg_bench", role: "assistant", model: "bench", content: [], usage: { input_tokens: 10 } }
  }
  yield { type: "content_block_start", index: 0, content_block: { type: "text", text: "" } }
  for (let i = 0; i < n; i++) {
    onEvent(i)
    yield { type: "content_block_delta", index: 0, delta: { type: "text_delta", text: `w${i % 1000} ` } }
  }
  yield { type: "content_block_stop", index: 0 }
  yield { type: "message_delta", delta: { stop_reason: "end_turn" }, usage: { output_tokens: n } }
  yield { type: "message_stop" }
}

const consume = (contender: Contender, events: Stream.Stream<StreamEvent.StreamEvent>): Effect.Effect<number> => {
  switch (contender) {
    case "drain":
      return Effect.as(Stream.runDrain(events), 0)
    case "summary":
      return Effect.map(Effect.orDie(Stream.run(events, Accumulate.summary)), (summary) => summary.text.length)
    case "collect":
      return Effect.map(Stream.runCollect(events), (all) => all.length)
    case "snapshots":
      return Effect.map(Effect.orDie(Stream.runLast(Accumulate.snapshots(events))), (last) =>
        last._tag === "Some" ? (last.value.message?.text.length ?? 0) : 0
      )
  }
}

const run = (contender: Contender, n: number, onEvent: (count: number) => void) =>
  Effect.runPromise(consume(contender, Stream.fromIteratorSucceed(turn(n, onEvent), 256)))

/** The child: measures one contender and sends the result to the parent. */
const child = async (contender: Contender, n: number) => {
  await run(contender, 20_000, () => {})
  await run(contender, 20_000, () => {})
  gc()
  const baseRss = process.memoryUsage.rss()
  const baseHeap = process.memoryUsage().heapUsed
  let peakRss = baseRss
  let peakHeap = baseHeap
  let live = Number.NaN
  const checkpoint = Math.floor(n * 0.9)
  const sample = () => {
    const usage = process.memoryUsage()
    if (usage.rss > peakRss) peakRss = usage.rss
    if (usage.heapUsed > peakHeap) peakHeap = usage.heapUsed
  }
  const started = performance.now()
  let paused = 0
  const textLength = await run(contender, n, (count) => {
    if ((count & 4095) === 0) sample()
    if (count === checkpoint) {
      const t0 = performance.now()
      sample()
      gc()
      live = process.memoryUsage().heapUsed
      paused += performance.now() - t0
    }
  })
  const seconds = (performance.now() - started - paused) / 1000
  sample()
  const result: Result = {
    contender,
    events: n + 5,
    seconds,
    peakRssGrowthMb: (peakRss - baseRss) / MB,
    peakHeapGrowthMb: (peakHeap - baseHeap) / MB,
    liveHeapMidStreamMb: (live - baseHeap) / MB,
    textLength
  }
  process.send!(result)
}

const measure = (contender: Contender, n: number): Promise<Result> =>
  new Promise((resolve, reject) => {
    const proc = fork(fileURLToPath(import.meta.url), ["--snapshots-child", contender, String(n)], {
      execArgv: childExecArgv(["--expose-gc"]),
      stdio: ["ignore", "inherit", "inherit", "ipc"]
    })
    let result: Result | undefined
    proc.on("message", (message: Result) => {
      result = message
    })
    proc.once("error", reject)
    proc.once("exit", (code) =>
      result !== undefined ? resolve(result) : reject(new Error(`the snapshots child exited with code ${code}`))
    )
  })

/**
 * Events/s and memory growth of the summary sink and the snapshot stream over `n` deltas.
 * @since 0.2.0
 */
export const benchSnapshots = async (options: {
  readonly n: number
  readonly runs: number
}): Promise<ReadonlyArray<Row>> => {
  const { n, runs } = options
  const benchmark = `accumulate N=${n.toLocaleString("en-US")}`
  const rows: Array<Row> = []
  const results = new Map<Contender, Array<Result>>()
  for (let rep = 0; rep < runs; rep++) {
    for (const contender of ["drain", "summary", "snapshots", "collect"] as const) {
      const result = await measure(contender, n)
      if ((contender === "summary" || contender === "snapshots") && result.textLength < n * 3) {
        throw new Error(`${contender} returned ${result.textLength} characters of text for ${n} deltas`)
      }
      results.set(contender, [...(results.get(contender) ?? []), result])
    }
  }
  for (const [contender, list] of results) {
    const of = (f: (r: Result) => number) => median(list.map(f))
    const label =
      contender === "drain"
        ? "Stream.runDrain (floor)"
        : contender === "collect"
          ? "Stream.runCollect (keeps every event)"
          : `Accumulate.${contender}`
    rows.push({
      benchmark,
      contender: `${label} events/s`,
      value: of((r) => r.events / r.seconds),
      unit: "ev/s",
      detail: list
    })
    rows.push({ benchmark, contender: `${label} peak RSS growth`, value: of((r) => r.peakRssGrowthMb), unit: "MB" })
    rows.push({
      benchmark,
      contender: `${label} peak heapUsed growth`,
      value: of((r) => r.peakHeapGrowthMb),
      unit: "MB"
    })
    rows.push({
      benchmark,
      contender: `${label} live heap at 90% (after GC)`,
      value: of((r) => r.liveHeapMidStreamMb),
      unit: "MB"
    })
  }
  return rows
}

if (process.argv[2] === "--snapshots-child") {
  await child(process.argv[3] as Contender, Number(process.argv[4]))
} else if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const n = Number(process.argv[2] ?? 1_000_000)
  console.log(formatTable(await benchSnapshots({ n, runs: Number(process.argv[3] ?? 3) })))
}
