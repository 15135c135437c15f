/**
 * Memory: the peak growth of resident memory (RSS) and of the JS heap while 1,000,000 deltas
 * stream through `agent.runStream` to a consumer that keeps none of them. Each contender runs in
 * a fresh child process (a fresh heap): warm-up on a short stream, full GC, baseline, then the
 * big stream with RSS and heap sampled every few milliseconds and every 4,096 events. The raw
 * SDK reading the same stream is measured the same way, for reference.
 *
 * Peak figures include garbage that V8 has not collected yet, so they move with GC timing; the
 * harness is measured three times (median). At 90% of the stream the child also runs a full GC
 * and reports the heap still live over the baseline: what the stream really holds (the turn's
 * text so far, which the session keeps for its history, and the buffers in flight).
 *
 * Run alone: `npx tsx bench/memory.ts [n=1000000]`.
 * @since 0.1.0
 */
import { fork } from "node:child_process"
import { fileURLToPath, pathToFileURL } from "node:url"
import { type Contender, reader } from "./util/contenders.js"
import { type BenchServer, childExecArgv, startServer } from "./util/server.js"
import { formatTable, median, type Row } from "./util/stats.js"

/**
 * What a child process measured.
 * @since 0.1.0
 */
export interface MemoryResult {
  readonly contender: Contender
  readonly events: number
  readonly baselineRssMb: number
  readonly peakRssGrowthMb: number
  readonly peakHeapGrowthMb: number
  /** Heap live at 90% of the stream (after a full GC), over the baseline. */
  readonly liveHeapMidStreamMb: number
  /** Heap still used after the stream ended and a full GC, over the baseline. */
  readonly retainedHeapMb: number
}

const MB = 1024 * 1024
const TARGET_MB = 20

const gc = () => {
  const collect = (globalThis as { gc?: () => void }).gc
  if (collect === undefined) throw new Error("run the memory child with --expose-gc")
  collect()
  collect()
}

/** The child: measures one contender and sends the result to the parent. */
const child = async (url: string, contender: Contender, n: number) => {
  let measuring = false
  let live = Number.NaN
  const checkpoint = Math.floor(n * 0.9)
  const read = reader(contender, url, {
    onEvent: (count) => {
      if (!measuring) return
      if ((count & 4095) === 0) sample()
      if (count === checkpoint) {
        sample()
        gc()
        live = process.memoryUsage().heapUsed
      }
    }
  })
  await read("stream:20000")
  await read("stream:20000")
  gc()
  const baseRss = process.memoryUsage.rss()
  const baseHeap = process.memoryUsage().heapUsed
  let peakRss = baseRss
  let peakHeap = baseHeap
  const sample = () => {
    const usage = process.memoryUsage()
    if (usage.rss > peakRss) peakRss = usage.rss
    if (usage.heapUsed > peakHeap) peakHeap = usage.heapUsed
  }
  measuring = true
  const timer = setInterval(sample, 2)
  const events = await read(`stream:${n}`)
  clearInterval(timer)
  sample()
  gc()
  const result: MemoryResult = {
    contender,
    events,
    baselineRssMb: baseRss / MB,
    peakRssGrowthMb: (peakRss - baseRss) / MB,
    peakHeapGrowthMb: (peakHeap - baseHeap) / MB,
    liveHeapMidStreamMb: (live - baseHeap) / MB,
    retainedHeapMb: (process.memoryUsage().heapUsed - baseHeap) / MB
  }
  process.send!(result)
}

/**
 * Measures one contender in a fresh child process.
 * @since 0.1.0
 */
export const measure = (server: BenchServer, contender: Contender, n: number): Promise<MemoryResult> =>
  new Promise((resolve, reject) => {
    const proc = fork(fileURLToPath(import.meta.url), ["--memory-child", server.url, contender, String(n)], {
      execArgv: childExecArgv(["--expose-gc"]),
      stdio: ["ignore", "inherit", "inherit", "ipc"]
    })
    let result: MemoryResult | undefined
    proc.on("message", (message: MemoryResult) => {
      result = message
    })
    proc.once("error", reject)
    proc.once("exit", (code) =>
      result !== undefined ? resolve(result) : reject(new Error(`the memory child exited with code ${code}`))
    )
  })

/**
 * Peak memory growth of the harness (and of the raw SDK, for reference) over `n` deltas.
 * @since 0.1.0
 */
export const benchMemory = async (
  server: BenchServer,
  options: { readonly n: number; readonly runs: number }
): Promise<ReadonlyArray<Row>> => {
  const { n, runs } = options
  const rows: Array<Row> = []
  const benchmark = `memory N=${n.toLocaleString("en-US")}`
  for (const contender of ["sdk", "harness"] as const) {
    const results: Array<MemoryResult> = []
    for (let run = 0; run < (contender === "harness" ? runs : 1); run++)
      results.push(await measure(server, contender, n))
    const of = (f: (r: MemoryResult) => number) => median(results.map(f))
    const rss = of((r) => r.peakRssGrowthMb)
    const target = contender === "harness" ? { target: `< ${TARGET_MB}`, ok: rss < TARGET_MB } : {}
    rows.push({
      benchmark,
      contender: `${contender} peak RSS growth`,
      value: rss,
      unit: "MB",
      ...target,
      detail: results
    })
    rows.push({
      benchmark,
      contender: `${contender} peak heapUsed growth`,
      value: of((r) => r.peakHeapGrowthMb),
      unit: "MB"
    })
    rows.push({
      benchmark,
      contender: `${contender} live heap at 90% (after GC)`,
      value: of((r) => r.liveHeapMidStreamMb),
      unit: "MB"
    })
  }
  return rows
}

if (process.argv[2] === "--memory-child") {
  await child(process.argv[3]!, process.argv[4] as Contender, Number(process.argv[5]))
} else if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const server = await startServer()
  try {
    const n = Number(process.argv[2] ?? 1_000_000)
    console.log(formatTable(await benchMemory(server, { n, runs: Number(process.argv[3] ?? 3) })))
  } finally {
    await server.stop()
  }
}
