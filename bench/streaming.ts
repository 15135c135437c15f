/**
 * Streaming overhead: one Anthropic SSE response of N text deltas, read to the end by the floor
 * (`node:http` + hand-split lines + `JSON.parse`), the raw `@anthropic-ai/sdk` and data-harness
 * `agent.runStream` over `Anthropic.layer`. The bench server (another process) writes pre-rendered
 * bytes, so it is never the bottleneck.
 *
 * Each repetition runs every contender once, in rotating order; the figures are medians over the
 * repetitions, and each ratio to the SDK is taken within one repetition (both contenders measured
 * in it) before the median is taken. Client CPU time is reported beside wall time: on a busy
 * machine it is the steadier figure.
 *
 * Run alone: `npx tsx bench/streaming.ts [n=1000000] [repetitions=3] [contenders=floor,sdk,harness]`.
 * Profile the harness alone: `node --cpu-prof --cpu-prof-dir=/tmp/prof --import tsx
 * bench/streaming.ts 1000000 3 harness`, then `npx tsx bench/util/profile.ts /tmp/prof/<file>`.
 * @since 0.1.0
 */
import { pathToFileURL } from "node:url"
import { type Contender, reader } from "./util/contenders.js"
import { type BenchServer, startServer } from "./util/server.js"
import { FRAME_EVENTS } from "./util/sse.js"
import { collectGarbage, formatTable, median, type Row, rotations } from "./util/stats.js"

/**
 * What one contender did in one repetition.
 * @since 0.1.0
 */
export interface Sample {
  readonly contender: Contender
  readonly events: number
  readonly wallMs: number
  readonly cpuMs: number
}

const CONTENDERS: ReadonlyArray<Contender> = ["floor", "sdk", "harness"]

/** The ratio target of the harness to the raw SDK at this size, if any (issue 12: at most 0.65). */
const ratioTarget = (n: number) => (n >= 1_000_000 ? 0.65 : undefined)
/** The aim for the harness against the floor at this size (issue 12: within 1.25x of it). */
const floorTarget = (n: number) => (n >= 1_000_000 ? 1.25 : undefined)

/**
 * Streams `n` deltas `repetitions` times per contender and returns the table rows.
 * @since 0.1.0
 */
export const benchStreaming = async (
  server: BenchServer,
  options: {
    readonly n: number
    readonly repetitions: number
    readonly contenders?: ReadonlyArray<Contender> | undefined
  }
): Promise<ReadonlyArray<Row>> => {
  const { n, repetitions } = options
  const contenders = options.contenders ?? CONTENDERS
  const model = `stream:${n}`
  const readers = new Map(contenders.map((c) => [c, reader(c, server.url)]))
  // JIT warm-up and connection set-up, unmeasured
  for (const c of contenders) await readers.get(c)!(`stream:${Math.min(n, 50_000)}`)
  const reps: Array<Record<Contender, Sample>> = []
  for (const order of rotations(contenders, repetitions)) {
    const rep = {} as Record<Contender, Sample>
    for (const contender of order) {
      collectGarbage()
      const cpu0 = process.cpuUsage()
      const t0 = performance.now()
      const events = await readers.get(contender)!(model)
      const wallMs = performance.now() - t0
      const cpu = process.cpuUsage(cpu0)
      if (events !== n + FRAME_EVENTS)
        throw new Error(`${contender} read ${events} events, expected ${n + FRAME_EVENTS}`)
      rep[contender] = { contender, events, wallMs, cpuMs: (cpu.user + cpu.system) / 1000 }
    }
    reps.push(rep)
  }
  const benchmark = `streaming N=${n.toLocaleString("en-US")}`
  const rows: Array<Row> = []
  for (const contender of contenders) {
    const samples = reps.map((rep) => rep[contender])
    rows.push({
      benchmark,
      contender,
      value: median(samples.map((s) => (s.events / s.wallMs) * 1000)),
      unit: "events/s",
      detail: { wallMs: samples.map((s) => s.wallMs), cpuMs: samples.map((s) => s.cpuMs) }
    })
  }
  for (const contender of contenders) {
    if (contender === "sdk" || !contenders.includes("sdk")) continue
    const target = contender === "harness" ? ratioTarget(n) : undefined
    const wall = median(reps.map((rep) => rep[contender].wallMs / rep.sdk.wallMs))
    const cpu = median(reps.map((rep) => rep[contender].cpuMs / rep.sdk.cpuMs))
    rows.push({
      benchmark,
      contender: `${contender} / sdk (wall time)`,
      value: wall,
      unit: "x",
      ...(target !== undefined ? { target: `<= ${target}`, ok: wall <= target } : {}),
      detail: reps.map((rep) => rep[contender].wallMs / rep.sdk.wallMs)
    })
    rows.push({
      benchmark,
      contender: `${contender} / sdk (client CPU)`,
      value: cpu,
      unit: "x",
      detail: reps.map((rep) => rep[contender].cpuMs / rep.sdk.cpuMs)
    })
  }
  if (contenders.includes("harness") && contenders.includes("floor")) {
    const target = floorTarget(n)
    const wall = median(reps.map((rep) => rep.harness.wallMs / rep.floor.wallMs))
    rows.push({
      benchmark,
      contender: "harness / floor (wall time)",
      value: wall,
      unit: "x",
      ...(target !== undefined ? { target: `<= ${target}`, ok: wall <= target } : {}),
      detail: reps.map((rep) => rep.harness.wallMs / rep.floor.wallMs)
    })
  }
  return rows
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const server = await startServer()
  try {
    const rows = await benchStreaming(server, {
      n: Number(process.argv[2] ?? 1_000_000),
      repetitions: Number(process.argv[3] ?? 3),
      contenders: process.argv[4]?.split(",") as ReadonlyArray<Contender> | undefined
    })
    console.log(formatTable(rows))
  } finally {
    await server.stop()
  }
}
