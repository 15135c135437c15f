/**
 * The HTTP server (`data-harness/server`) under load, with the server in a process of its own
 * and the clients in this one.
 *
 * - `server SSE`: `clients` sessions each ask at once; the scripted model (`Mock.layer` with
 *   `eventDelay: "20 millis"`, one character per delta) paces every event of every stream at
 *   20 ms. Each client reads its ask's `text/event-stream` with `node:http` and takes the time
 *   between consecutive events of its stream: p50 / p99 of those inter-event gaps (ideally 20 ms;
 *   everything the server does between two events adds to it), and the server's CPU over the
 *   asks (ms, and % of one core over the wall time). Target: p99 < 50 ms.
 * - `server /v1/messages`: events/s the official SDK (`client.beta.messages.stream`, counted
 *   with `for await`) receives for one message of N text deltas: reading the upstream (the bench
 *   server, pre-rendered bytes) directly; through our `POST /v1/messages` over `Anthropic.layer`
 *   reading that same upstream (SDK -> our server -> upstream); and through our endpoint over
 *   the unpaced scripted model (the server's own cost, no upstream).
 *
 * Three processes share the machine's cores (this client, our server, the upstream), so the
 * figures are indicative, more so while other work runs.
 *
 * Run alone: `BENCH_SOURCE=1 npx tsx bench/server.ts [clients=1000] [deltas=100] [repetitions=3]`.
 * @since 0.2.0
 */
import { type ChildProcess, fork } from "node:child_process"
import * as Http from "node:http"
import { fileURLToPath, pathToFileURL } from "node:url"
import AnthropicSdk from "@anthropic-ai/sdk"
import { nowMs } from "./util/clock.js"
import { type BenchServer, childExecArgv, startServer } from "./util/server.js"
import { collectGarbage, formatTable, median, percentile, type Row } from "./util/stats.js"

const TOKEN = "bench-token"
const INTERVAL_MS = 20
const TARGET_P99_MS = 50

// the server process

/** What the server process runs over. */
type Upstream =
  | { readonly kind: "paced"; readonly deltas: number }
  | { readonly kind: "scripted"; readonly deltas: number }
  | { readonly kind: "anthropic"; readonly deltas: number; readonly baseURL: string }

const runServerProcess = async (upstream: Upstream) => {
  const { Effect, Layer, Context } = await import("effect")
  const { HttpServer } = await import("effect/http")
  const { Anthropic, Mock } = await import("../src/index.js")
  const { Server } = await import("../src/server/index.js")
  const provider =
    upstream.kind === "anthropic"
      ? Anthropic.layer({ model: `stream:${upstream.deltas}`, baseURL: upstream.baseURL, apiKey: "bench" })
      : Mock.layer({
          turns: [Mock.text("x".repeat(upstream.deltas))],
          chunkSize: 1,
          ...(upstream.kind === "paced" ? { eventDelay: `${INTERVAL_MS} millis` } : {})
        })
  const server = Server.layer({
    port: 0,
    tokens: [{ tenant: "bench", token: TOKEN }],
    limits: { maxConcurrentAsks: 100_000, maxSessions: 100_000 },
    agent: { retry: false }
  }).pipe(Layer.provide(provider))
  const send = (message: unknown) => process.send?.(message)
  await Effect.runPromise(
    Effect.scoped(
      Effect.gen(function* () {
        const context = yield* Layer.build(server)
        const address = Context.get(context, HttpServer.HttpServer).address
        send({ type: "ready", url: HttpServer.formatAddress(address) })
        yield* Effect.callback<void>((resume) => {
          process.on("message", (message: { readonly type?: string }) => {
            if (message.type === "cpu") send({ type: "cpu", usage: process.cpuUsage() })
            if (message.type === "stop") resume(Effect.void)
          })
          process.on("disconnect", () => resume(Effect.void))
        })
      })
    )
  )
  process.exit(0)
}

interface ServerProcess {
  readonly url: string
  readonly cpuMs: () => Promise<number>
  readonly stop: () => Promise<void>
}

const startServerProcess = (upstream: Upstream): Promise<ServerProcess> =>
  new Promise((resolve, reject) => {
    // BENCH_SERVER_PROFILE=<dir>: a CPU profile of each server process (summarise with util/profile.ts)
    const profile = process.env.BENCH_SERVER_PROFILE
    const child: ChildProcess = fork(fileURLToPath(import.meta.url), ["--server-process", JSON.stringify(upstream)], {
      execArgv: childExecArgv(profile === undefined ? [] : ["--cpu-prof", `--cpu-prof-dir=${profile}`]),
      stdio: ["ignore", "inherit", "inherit", "ipc"]
    })
    let cpuWaiter: ((ms: number) => void) | undefined
    child.on("message", (message: { type: string; url?: string; usage?: NodeJS.CpuUsage }) => {
      if (message.type === "ready") {
        resolve({
          url: message.url!,
          cpuMs: () =>
            new Promise((done) => {
              cpuWaiter = done
              child.send({ type: "cpu" })
            }),
          stop: () =>
            new Promise((done) => {
              child.once("exit", () => done())
              child.send({ type: "stop" })
            })
        })
      }
      if (message.type === "cpu" && cpuWaiter !== undefined) {
        cpuWaiter((message.usage!.user + message.usage!.system) / 1000)
        cpuWaiter = undefined
      }
    })
    child.once("error", reject)
    child.once("exit", (code) => reject(new Error(`the server process exited (${code}) before it listened`)))
  })

// the SSE clients

const agent = new Http.Agent({ keepAlive: true, maxSockets: Number.POSITIVE_INFINITY })

const request = (url: string, method: string, path: string, body?: unknown): Promise<Http.IncomingMessage> =>
  new Promise((resolve, reject) => {
    const req = Http.request(`${url}${path}`, {
      method,
      agent,
      headers: { authorization: `Bearer ${TOKEN}`, "content-type": "application/json" }
    })
    req.once("response", resolve)
    req.once("error", reject)
    req.end(body === undefined ? undefined : JSON.stringify(body))
  })

const json = async (url: string, method: string, path: string, body?: unknown): Promise<{ id: string }> => {
  const response = await request(url, method, path, body)
  const chunks: Array<Buffer> = []
  for await (const chunk of response) chunks.push(chunk as Buffer)
  return JSON.parse(Buffer.concat(chunks).toString("utf8") || "{}")
}

/** Reads one ask's event stream; records the time between consecutive events into `gaps`. */
const readAsk = (url: string, id: string, gaps: Array<number>): Promise<number> =>
  readEvents(request(url, "POST", `/v1/sessions/${id}/asks`, { prompt: "Stream to me." }), gaps)

/** Reads an event stream; records the time between consecutive events into `gaps`. */
const readEvents = async (responded: Promise<Http.IncomingMessage>, gaps: Array<number>): Promise<number> => {
  const response = await responded
  let rest = ""
  let last: number | undefined
  let events = 0
  response.setEncoding("utf8")
  if (response.statusCode !== 200) {
    let body = ""
    for await (const chunk of response) body += chunk
    throw new Error(`${response.statusCode} ${body}`)
  }
  for await (const chunk of response) {
    const arrived = nowMs()
    const records = (rest + (chunk as string)).split("\n\n")
    rest = records.pop()!
    for (const record of records) {
      if (!record.startsWith("event: ") && !record.includes("\nevent: ")) continue // comments
      events++
      if (last !== undefined) gaps.push(arrived - last)
      last = arrived
    }
  }
  return events
}

/**
 * The floor: the bench server (plain `node:http`, pre-rendered events, a timer per event) writing
 * as many events per stream at the same pace to the same clients.
 */
const benchFloor = async (
  upstream: BenchServer,
  options: { readonly clients: number; readonly deltas: number }
): Promise<ReadonlyArray<number>> => {
  // an ask's stream is its deltas and 7 more events (ask_start, ask_end and 5 frame events of the
  // turn); the bench server adds 4 frame events to its deltas
  const model = `paced:${options.deltas + 3}:${INTERVAL_MS}:${INTERVAL_MS}`
  collectGarbage()
  const gaps: Array<number> = []
  const cpu0 = await upstream.cpuMs()
  const events = await Promise.all(
    Array.from({ length: options.clients }, () =>
      readEvents(request(upstream.url, "POST", "/v1/messages", { model }), gaps)
    )
  )
  const cpuMs = (await upstream.cpuMs()) - cpu0
  return [percentile(gaps, 50), percentile(gaps, 99), cpuMs, (cpuMs * 1000) / events.reduce((a, b) => a + b, 0)]
}

const benchSse = async (options: {
  readonly clients: number
  readonly deltas: number
}): Promise<ReadonlyArray<number>> => {
  const server = await startServerProcess({ kind: "paced", deltas: options.deltas })
  const sessions = async (count: number) => {
    const ids: Array<string> = []
    for (let i = 0; i < count; i += 50) {
      const batch = Math.min(50, count - i)
      const made = await Promise.all(Array.from({ length: batch }, () => json(server.url, "POST", "/v1/sessions", {})))
      ids.push(...made.map((s) => s.id))
    }
    return ids
  }
  try {
    // warm-up: the first asks load modules lazily and get the code optimised
    await Promise.all((await sessions(20)).map((id) => readAsk(server.url, id, [])))
    const ids = await sessions(options.clients)
    collectGarbage()
    const gaps: Array<number> = []
    const cpu0 = await server.cpuMs()
    const clientCpu0 = process.cpuUsage()
    const t0 = performance.now()
    const events = await Promise.all(ids.map((id) => readAsk(server.url, id, gaps)))
    const wallMs = performance.now() - t0
    const serverCpuMs = (await server.cpuMs()) - cpu0
    const clientCpu = process.cpuUsage(clientCpu0)
    const total = events.reduce((a, b) => a + b, 0)
    return [
      percentile(gaps, 50),
      percentile(gaps, 99),
      serverCpuMs,
      (serverCpuMs / wallMs) * 100,
      (clientCpu.user + clientCpu.system) / 1000,
      total,
      wallMs
    ]
  } finally {
    await server.stop()
  }
}

// the Anthropic-compatible endpoint

const sdkEventsPerSecond = async (baseURL: string, apiKey: string, model: string): Promise<number> => {
  const client = new AnthropicSdk({ apiKey, baseURL, maxRetries: 0 })
  collectGarbage()
  const t0 = performance.now()
  let events = 0
  const stream = client.beta.messages.stream({
    model,
    max_tokens: 1000,
    messages: [{ role: "user", content: "Stream to me." }]
  })
  for await (const _event of stream) events++
  return events / ((performance.now() - t0) / 1000)
}

const benchMessages = async (
  upstream: BenchServer,
  options: { readonly deltas: number; readonly repetitions: number }
): Promise<ReadonlyArray<Row>> => {
  const through = await startServerProcess({ kind: "anthropic", deltas: options.deltas, baseURL: upstream.url })
  const scripted = await startServerProcess({ kind: "scripted", deltas: options.deltas })
  const runs = { direct: [] as Array<number>, through: [] as Array<number>, scripted: [] as Array<number> }
  try {
    for (let rep = 0; rep < options.repetitions; rep++) {
      runs.direct.push(await sdkEventsPerSecond(upstream.url, "bench", `stream:${options.deltas}`))
      runs.through.push(await sdkEventsPerSecond(through.url, TOKEN, "any"))
      runs.scripted.push(await sdkEventsPerSecond(scripted.url, TOKEN, "any"))
    }
  } finally {
    await Promise.all([through.stop(), scripted.stop()])
  }
  const benchmark = `server /v1/messages, N = ${options.deltas.toLocaleString("en-US")}`
  const direct = median(runs.direct)
  const via = median(runs.through)
  return [
    { benchmark, contender: "sdk <- upstream (direct)", value: direct, unit: "events/s" },
    { benchmark, contender: "sdk <- /v1/messages <- upstream", value: via, unit: "events/s" },
    { benchmark, contender: "sdk <- /v1/messages <- scripted", value: median(runs.scripted), unit: "events/s" },
    { benchmark, contender: "through / direct", value: via / direct, unit: "ratio" }
  ]
}

/**
 * Runs both server benchmarks.
 * @since 0.2.0
 */
export const benchServer = async (
  upstream: BenchServer,
  options: {
    readonly clients: number
    readonly deltas: number
    readonly repetitions: number
    readonly messageDeltas: number
  }
): Promise<ReadonlyArray<Row>> => {
  const runs: Array<ReadonlyArray<number>> = []
  const floors: Array<ReadonlyArray<number>> = []
  for (let rep = 0; rep < options.repetitions; rep++) {
    runs.push(await benchSse(options))
    floors.push(await benchFloor(upstream, options))
  }
  const at = (i: number) => median(runs.map((run) => run[i]!))
  const floor = (i: number) => median(floors.map((run) => run[i]!))
  const benchmark = `server SSE, ${options.clients.toLocaleString("en-US")} clients, ${INTERVAL_MS} ms/event`
  const p99 = at(1)
  return [
    { benchmark, contender: "inter-event gap p50", value: at(0), unit: "ms" },
    {
      benchmark,
      contender: "inter-event gap p99",
      value: p99,
      unit: "ms",
      target: `< ${TARGET_P99_MS} ms`,
      ok: p99 < TARGET_P99_MS
    },
    { benchmark, contender: "server CPU", value: at(2), unit: "ms" },
    { benchmark, contender: "server CPU / wall", value: at(3), unit: "% of a core" },
    { benchmark, contender: "server CPU per event", value: (at(2) * 1000) / at(5), unit: "µs" },
    { benchmark, contender: "client CPU", value: at(4), unit: "ms" },
    { benchmark, contender: "events received", value: at(5), unit: "events" },
    { benchmark, contender: "wall", value: at(6), unit: "ms" },
    { benchmark, contender: "floor (node:http): gap p50", value: floor(0), unit: "ms" },
    { benchmark, contender: "floor (node:http): gap p99", value: floor(1), unit: "ms" },
    { benchmark, contender: "floor (node:http): server CPU", value: floor(2), unit: "ms" },
    { benchmark, contender: "floor (node:http): CPU per event", value: floor(3), unit: "µs" },
    ...(await benchMessages(upstream, { deltas: options.messageDeltas, repetitions: options.repetitions }))
  ]
}

// entry points: the server process, or a run on its own

const serverArg = process.argv.indexOf("--server-process")
if (serverArg >= 0) {
  await runServerProcess(JSON.parse(process.argv[serverArg + 1]!) as Upstream)
} else if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  const [clients = 1000, deltas = 100, repetitions = 3] = process.argv.slice(2).map(Number)
  const upstream = await startServer()
  try {
    const rows = await benchServer(upstream, { clients, deltas, repetitions, messageDeltas: 100_000 })
    console.log(formatTable(rows))
  } finally {
    await upstream.stop()
  }
  agent.destroy()
}
