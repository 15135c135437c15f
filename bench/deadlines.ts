/**
 * The pull deadlines (the agent's `firstEvent` and `idle` timeouts) against the library's own
 * per-pull timeouts, on the same run (issue 12: the hand-written watcher is kept only with this
 * measure of what the library version costs).
 *
 * Contenders, each wrapping the same scripted in-process stream (no network, so what differs is
 * the deadline machinery):
 *
 * - `none`: the stream as it is (the floor).
 * - `withPullDeadlines`: `src/provider/pullDeadline.ts` with a first-event and an idle limit, as
 *   the agent loop puts them on a provider's stream (`providerEvents` in `src/agent/loop.ts`);
 *   the limits are the agent's defaults (10 minutes, 5 minutes), so none fires.
 * - `Stream.timeoutOrElse`: effect's per-pull stream timeout (`Stream.timeout` is it with an
 *   empty fallback), the idle limit on every pull, failing with the timeout error. It has one
 *   limit for every pull: no separate first-event limit.
 * - `Effect.timeoutOrElse per pull`: `Stream.transformPull` with `Effect.timeoutOrElse` around
 *   each pull, the first-event limit on the first and the idle limit after it (the harness's
 *   design before the watchdog).
 *
 * Two loads:
 *
 * - Throughput: one stream of N events (default 1,000,000), one event per pull (as a paced SSE
 *   read yields them; the worst case for per-pull machinery), drained. Two sources: `at hand`
 *   (every pull completes synchronously) and `waits` (every pull waits one scheduler turn,
 *   `Effect.yieldNow`, as a network read waits: `withPullDeadlines` arms its watchdog on each).
 *   Figures: events/s and client CPU per event, medians over repetitions in rotating order.
 * - Concurrency: 1,000 streams of 100 events, event k of a stream due `k * 20 ms` after a random
 *   phase (the scripted provider's pacing in `bench/concurrency.ts`, here without the agent),
 *   each stamped with its due time: gap (arrival minus due time) p50/p99 and client CPU.
 *
 * Run alone: `npx tsx bench/deadlines.ts [n=1000000] [repetitions=3] [streams=1000] [events=100]`.
 * @since 0.2.0
 */
import { pathToFileURL } from "node:url"
import { Cause, Duration, Effect, Stream } from "effect"
import { withPullDeadlines } from "../src/provider/pullDeadline.js"
import { nowMs } from "./util/clock.js"
import { collectGarbage, formatTable, median, percentile, type Row, rotations } from "./util/stats.js"

const FIRST = Duration.minutes(10)
const IDLE = Duration.minutes(5)
const INTERVAL_MS = 20
/** The first event of a paced stream is due this long (plus a random phase) after it starts. */
const FIRST_MS = 500

class Timeout {
  readonly _tag = "Timeout"
  constructor(
    readonly first: boolean,
    readonly limit: Duration.Duration
  ) {}
}

type Contender = "none" | "withPullDeadlines" | "Stream.timeoutOrElse" | "Effect.timeoutOrElse per pull"
const contenders: ReadonlyArray<Contender> = [
  "none",
  "withPullDeadlines",
  "Stream.timeoutOrElse",
  "Effect.timeoutOrElse per pull"
]

/** `self` with `contender`'s deadlines (the agent's default limits unless given). */
const withDeadlines = <A>(
  contender: Contender,
  self: Stream.Stream<A>,
  first: Duration.Duration = FIRST,
  idle: Duration.Duration = IDLE
): Stream.Stream<A, Timeout> => {
  const FIRST = first
  const IDLE = idle
  switch (contender) {
    case "none":
      return self
    case "withPullDeadlines":
      return withPullDeadlines(self, { first: FIRST, idle: IDLE }, (first, limit) => new Timeout(first, limit))
    case "Stream.timeoutOrElse":
      return Stream.timeoutOrElse(self, { duration: IDLE, orElse: () => Stream.fail(new Timeout(false, IDLE)) })
    case "Effect.timeoutOrElse per pull":
      return Stream.transformPull(self, (pull) => {
        let first = true
        return Effect.succeed(
          Effect.suspend(() => {
            const limit = first ? FIRST : IDLE
            const timedOut = first
            return Effect.timeoutOrElse(
              Effect.map(pull, (chunk) => {
                first = false
                return chunk
              }),
              { duration: limit, orElse: () => Effect.fail(new Timeout(timedOut, limit)) }
            )
          })
        )
      })
  }
}

interface Event {
  readonly type: "content_block_delta"
  readonly index: number
  readonly delta: { readonly type: "text_delta"; readonly text: string }
}

function* events(n: number): Generator<Event> {
  for (let i = 0; i < n; i++) yield { type: "content_block_delta", index: 0, delta: { type: "text_delta", text: "w " } }
}

type Source = "at hand" | "waits"

/** `n` events, one per pull; with `waits`, every pull waits a scheduler turn before its event. */
const source = (kind: Source, n: number): Stream.Stream<Event> => {
  const stream = Stream.fromIteratorSucceed(events(n), 1)
  return kind === "at hand" ? stream : Stream.mapEffect(stream, (event) => Effect.as(Effect.yieldNow, event))
}

interface Throughput {
  readonly seconds: number
  readonly cpuMs: number
  readonly events: number
}

const drain = async (contender: Contender, kind: Source, n: number): Promise<Throughput> => {
  let count = 0
  const stream = withDeadlines(contender, source(kind, n))
  const cpu0 = process.cpuUsage()
  const t0 = performance.now()
  await Effect.runPromise(
    Stream.runForEachArray(stream, (chunk) =>
      Effect.sync(() => {
        count += chunk.length
      })
    )
  )
  const seconds = (performance.now() - t0) / 1000
  const cpu = process.cpuUsage(cpu0)
  if (count !== n) throw new Error(`${contender} (${kind}): ${count} of ${n} events`)
  return { seconds, cpuMs: (cpu.user + cpu.system) / 1000, events: count }
}

/**
 * Checks that every contender does the job: a stream that sends one event and then nothing
 * fails with the timeout, within its idle limit.
 */
const check = async (contender: Contender): Promise<void> => {
  if (contender === "none") return
  const stalls = Stream.concat(Stream.make(1), Stream.never)
  const exit = await Effect.runPromise(
    Effect.exit(Stream.runDrain(withDeadlines(contender, stalls, Duration.seconds(5), Duration.millis(5))))
  )
  const error = exit._tag === "Failure" ? Cause.squash(exit.cause) : undefined
  if (!(error instanceof Timeout) || error.first) {
    throw new Error(`${contender}: a stalled stream did not time out on its idle limit (${String(exit)})`)
  }
}

interface Paced {
  readonly gaps: Float64Array
  readonly cpuMs: number
  readonly wallMs: number
}

/** `streams` paced streams of `perStream` events at once, each through `contender`'s deadlines. */
const paced = async (contender: Contender, streams: number, perStream: number): Promise<Paced> => {
  const gaps = new Float64Array(streams * perStream)
  let count = 0
  const one = Stream.suspend(() => {
    const start = nowMs() + FIRST_MS + Math.random() * INTERVAL_MS
    let sent = 0
    return Stream.mapEffect(Stream.fromIteratorSucceed(events(perStream), 1), (): Effect.Effect<number> => {
      const due = start + sent++ * INTERVAL_MS
      const wait = due - nowMs()
      return wait > 0 ? Effect.as(Effect.sleep(wait), due) : Effect.succeed(due)
    })
  })
  collectGarbage()
  const cpu0 = process.cpuUsage()
  const t0 = performance.now()
  await Effect.runPromise(
    Effect.forEach(
      Array.from({ length: streams }, (_, i) => i),
      () =>
        Stream.runForEach(withDeadlines(contender, one), (due) =>
          Effect.sync(() => {
            gaps[count++] = nowMs() - due
          })
        ),
      { concurrency: "unbounded", discard: true }
    )
  )
  const wallMs = performance.now() - t0
  const cpu = process.cpuUsage(cpu0)
  if (count !== gaps.length) throw new Error(`${contender} (paced): ${count} of ${gaps.length} events`)
  return { gaps, cpuMs: (cpu.user + cpu.system) / 1000, wallMs }
}

/**
 * Runs both loads and returns the table rows.
 * @since 0.2.0
 */
export const benchDeadlines = async (options: {
  readonly n: number
  readonly repetitions: number
  readonly streams: number
  readonly events: number
}): Promise<ReadonlyArray<Row>> => {
  for (const contender of contenders) await check(contender)
  const rows: Array<Row> = []
  for (const kind of ["at hand", "waits"] as const) {
    for (const contender of contenders) await drain(contender, kind, 20_000)
    const results = new Map<Contender, Array<Throughput>>(contenders.map((c) => [c, []]))
    for (const order of rotations(contenders, options.repetitions)) {
      for (const contender of order) {
        collectGarbage()
        results.get(contender)!.push(await drain(contender, kind, options.n))
      }
    }
    const benchmark = `deadlines ${options.n.toLocaleString("en-US")} events, 1 per pull, ${kind}`
    for (const contender of contenders) {
      const all = results.get(contender)!
      rows.push({
        benchmark,
        contender: `${contender} events/s`,
        value: median(all.map((r) => r.events / r.seconds)),
        unit: "ev/s",
        detail: { seconds: all.map((r) => r.seconds) }
      })
      rows.push({
        benchmark,
        contender: `${contender} CPU per event`,
        value: median(all.map((r) => (r.cpuMs * 1e6) / r.events)),
        unit: "ns",
        detail: { cpuMs: all.map((r) => r.cpuMs) }
      })
    }
  }
  for (const contender of contenders) await paced(contender, 100, 5)
  const results = new Map<Contender, Array<Paced>>(contenders.map((c) => [c, []]))
  for (const order of rotations(contenders, options.repetitions)) {
    for (const contender of order) results.get(contender)!.push(await paced(contender, options.streams, options.events))
  }
  const benchmark = `deadlines ${options.streams.toLocaleString("en-US")} streams x ${options.events} @${INTERVAL_MS}ms`
  for (const contender of contenders) {
    const all = results.get(contender)!
    rows.push({
      benchmark,
      contender: `${contender} gap p50`,
      value: median(all.map((r) => percentile(r.gaps, 50))),
      unit: "ms"
    })
    rows.push({
      benchmark,
      contender: `${contender} gap p99`,
      value: median(all.map((r) => percentile(r.gaps, 99))),
      unit: "ms",
      detail: { p99s: all.map((r) => percentile(r.gaps, 99)), wallMs: all.map((r) => r.wallMs) }
    })
    rows.push({ benchmark, contender: `${contender} client CPU`, value: median(all.map((r) => r.cpuMs)), unit: "ms" })
  }
  return rows
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const n = Number(process.argv[2] ?? 1_000_000)
  const repetitions = Number(process.argv[3] ?? 3)
  const streams = Number(process.argv[4] ?? 1000)
  const perStream = Number(process.argv[5] ?? 100)
  console.log(formatTable(await benchDeadlines({ n, repetitions, streams, events: perStream })))
}
