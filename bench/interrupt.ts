/**
 * Interrupt latency: the time from interrupting a streaming ask to the server seeing its socket
 * close. The bench server (another process) streams a delta at once and then one every 10 ms,
 * forever, and reports when each request's socket closes; both processes read the machine-wide
 * monotonic clock.
 *
 * One try: `Effect.runFork(Stream.runForEach(agent.runStream(prompt), ...))`, wait for the first
 * delta, wait a random 0-10 ms (so the interrupt lands anywhere between two deltas), then
 * `Fiber.interrupt`; latency = the server's close time - the time of the interrupt call. The raw
 * SDK (`stream.controller.abort()`) is measured the same way every fourth try, for reference.
 *
 * Run alone: `npx tsx bench/interrupt.ts [tries=1000]`.
 * @since 0.1.0
 */
import { pathToFileURL } from "node:url"
import AnthropicSdk from "@anthropic-ai/sdk"
import { Effect, Fiber, Stream } from "effect"
import { Agent } from "../src/index.js"
import * as Anthropic from "../src/provider/anthropic/Anthropic.js"
import { nowMs } from "./util/clock.js"
import { type BenchServer, startServer } from "./util/server.js"
import { formatTable, percentile, type Row } from "./util/stats.js"

const MODEL = "forever:10"
const PROMPT = "Keep talking."
const TARGET_P99_MS = 20
const CLOSE_TIMEOUT_MS = 2000

const idOf = (messageId: string) => Number(messageId.slice("msg_bench_".length))

const randomPause = () => new Promise<void>((resolve) => setTimeout(resolve, Math.random() * 10))

/**
 * One harness try: the latency in ms, or `undefined` when the server saw no close in time.
 * @since 0.1.0
 */
export const harnessTry = async (server: BenchServer, agent: Agent.Agent): Promise<number | undefined> => {
  let id = -1
  let firstDelta!: () => void
  const ready = new Promise<void>((resolve) => {
    firstDelta = resolve
  })
  const fiber = Effect.runFork(
    agent.runStream(PROMPT).pipe(
      Stream.runForEach((event) =>
        Effect.sync(() => {
          if (event.type === "message_start") id = idOf(event.message.id)
          else if (event.type === "content_block_delta") firstDelta()
        })
      )
    )
  )
  await ready
  await randomPause()
  const interruptedAt = nowMs()
  const done = Effect.runPromise(Fiber.interrupt(fiber))
  const closedAt = await server.closedAt(id, CLOSE_TIMEOUT_MS)
  await done
  return closedAt === undefined ? undefined : closedAt - interruptedAt
}

/**
 * One raw SDK try: `controller.abort()` after the first delta.
 * @since 0.1.0
 */
export const sdkTry = async (server: BenchServer, client: AnthropicSdk): Promise<number | undefined> => {
  const stream = await client.messages.create({
    model: MODEL,
    max_tokens: 4096,
    messages: [{ role: "user", content: PROMPT }],
    stream: true
  })
  let id = -1
  const iterator = stream[Symbol.asyncIterator]()
  while (true) {
    const { value, done } = await iterator.next()
    if (done) throw new Error("the forever stream ended")
    if (value.type === "message_start") id = idOf(value.message.id)
    else if (value.type === "content_block_delta") break
  }
  // keep reading, as a consumer would, until aborted
  const reading = (async () => {
    try {
      while (!(await iterator.next()).done) {}
    } catch {
      // aborted
    }
  })()
  await randomPause()
  const abortedAt = nowMs()
  stream.controller.abort()
  const closedAt = await server.closedAt(id, CLOSE_TIMEOUT_MS)
  await reading
  return closedAt === undefined ? undefined : closedAt - abortedAt
}

/**
 * `tries` harness interrupts (and a quarter as many raw SDK aborts, interleaved).
 * @since 0.1.0
 */
export const benchInterrupt = async (server: BenchServer, tries: number): Promise<ReadonlyArray<Row>> => {
  const agent = Effect.runSync(
    Agent.make().pipe(Effect.provide(Anthropic.layer({ model: MODEL, apiKey: "sk-ant-bench", baseURL: server.url })))
  )
  const client = new AnthropicSdk({ apiKey: "sk-ant-bench", baseURL: server.url, maxRetries: 0 })
  for (let i = 0; i < 20; i++) {
    await harnessTry(server, agent)
    await sdkTry(server, client)
  }
  const harness: Array<number> = []
  const sdk: Array<number> = []
  let harnessMissed = 0
  let sdkMissed = 0
  const t0 = performance.now()
  for (let i = 0; i < tries; i++) {
    const latency = await harnessTry(server, agent)
    if (latency === undefined) harnessMissed++
    else harness.push(latency)
    if (i % 4 === 3) {
      const latency = await sdkTry(server, client)
      if (latency === undefined) sdkMissed++
      else sdk.push(latency)
    }
  }
  const wallMs = performance.now() - t0
  const benchmark = `interrupt -> socket close (${tries.toLocaleString("en-US")} tries)`
  const p99 = percentile(harness, 99)
  return [
    { benchmark, contender: "harness p50", value: percentile(harness, 50), unit: "ms" },
    {
      benchmark,
      contender: "harness p99",
      value: harnessMissed > 0 ? Number.POSITIVE_INFINITY : p99,
      unit: "ms",
      target: `< ${TARGET_P99_MS}`,
      ok: harnessMissed === 0 && p99 < TARGET_P99_MS,
      detail: { missed: harnessMissed, max: percentile(harness, 100), wallMs }
    },
    { benchmark, contender: "sdk abort p50", value: percentile(sdk, 50), unit: "ms" },
    {
      benchmark,
      contender: "sdk abort p99",
      value: sdkMissed > 0 ? Number.POSITIVE_INFINITY : percentile(sdk, 99),
      unit: "ms",
      detail: { tries: sdk.length + sdkMissed, missed: sdkMissed, max: percentile(sdk, 100) }
    }
  ]
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const server = await startServer()
  try {
    console.log(formatTable(await benchInterrupt(server, Number(process.argv[2] ?? 1000))))
  } finally {
    await server.stop()
  }
}
