/**
 * Streaming over the OpenAI-compatible provider: one Chat Completions stream of N content chunks,
 * read to the end by the floor (`node:http` + hand-split lines + `JSON.parse`), the raw `openai`
 * SDK (`for await` over `chat.completions.create({ stream: true })`) and data-harness
 * `agent.runStream` over `OpenAI.layer`. The server runs in its own process (this file, forked
 * with `--serve`) and writes pre-rendered bytes shaped as OpenAI sends them (`system_fingerprint`,
 * `service_tier`, `obfuscation` on every chunk; a role chunk first, a finish chunk, a usage chunk,
 * `[DONE]`).
 *
 * The rate is N content deltas per second of wall time for every contender (the SDK yields N + 3
 * chunks, the harness N + 5 events). Each repetition runs every contender once in rotating order;
 * figures are medians, and each ratio to the SDK is taken within one repetition. Target: the
 * harness no slower than the raw SDK at N = 1,000,000.
 *
 * Run alone: `npm run build && npx tsx --import ./bench/util/build.mjs bench/openai.ts [n=1000000] [repetitions=3]`.
 * @since 0.2.0
 */
import { type ChildProcess, fork } from "node:child_process"
import * as Http from "node:http"
import type { AddressInfo } from "node:net"
import * as Os from "node:os"
import { fileURLToPath, pathToFileURL } from "node:url"
import { Effect, Stream } from "effect"
import OpenAISdk from "openai"
import { Agent } from "../src/index.js"
import * as OpenAI from "../src/provider/openai/OpenAI.js"
import { childExecArgv } from "./util/server.js"
import { collectGarbage, formatTable, median, type Row, rotations } from "./util/stats.js"

const API_KEY = "sk-bench"
const PROMPT = "Say something long."
const DELTA = "word "

// the server (a child process)

const chunkOf = (delta: Record<string, unknown>, finish: string | null) =>
  `data: ${JSON.stringify({
    id: "chatcmpl-BenchAbcdefghijklmnopqrstuvwx",
    object: "chat.completion.chunk",
    created: 1_754_000_000,
    model: "gpt-4.1-nano-2025-04-14",
    service_tier: "default",
    system_fingerprint: "fp_38343a2f8f",
    choices: [{ index: 0, delta, logprobs: null, finish_reason: finish }],
    obfuscation: "k3Xq"
  })}\n\n`

/** One response of `n` content chunks as one buffer. */
const render = (n: number): Buffer => {
  const head = Buffer.from(chunkOf({ role: "assistant", content: "", refusal: null }, null))
  const one = Buffer.from(chunkOf({ content: DELTA }, null))
  const usage = {
    id: "chatcmpl-BenchAbcdefghijklmnopqrstuvwx",
    object: "chat.completion.chunk",
    created: 1_754_000_000,
    model: "gpt-4.1-nano-2025-04-14",
    choices: [],
    usage: { prompt_tokens: 12, completion_tokens: n, total_tokens: n + 12 }
  }
  const tail = Buffer.from(`${chunkOf({}, "stop")}data: ${JSON.stringify(usage)}\n\ndata: [DONE]\n\n`)
  const out = Buffer.allocUnsafe(head.length + one.length * n + tail.length)
  head.copy(out, 0)
  if (n > 0) out.fill(one, head.length, head.length + one.length * n)
  tail.copy(out, head.length + one.length * n)
  return out
}

const serve = () => {
  const rendered = new Map<number, Buffer>()
  const server = Http.createServer({ noDelay: true, keepAliveTimeout: 60_000 }, (req, res) => {
    const chunks: Array<Buffer> = []
    req.on("data", (chunk: Buffer) => chunks.push(chunk))
    req.on("end", () => {
      const model = String((JSON.parse(Buffer.concat(chunks).toString("utf8")) as { model?: unknown }).model)
      const n = Number(model.split(":")[1])
      let bytes = rendered.get(n)
      if (bytes === undefined) rendered.set(n, (bytes = render(n)))
      res.writeHead(200, { "content-type": "text/event-stream", "x-request-id": "req_bench" })
      res.end(bytes)
    })
  })
  server.headersTimeout = 0
  server.requestTimeout = 0
  process.on("message", (message: { readonly type?: string }) => {
    if (message.type === "stop") {
      server.closeAllConnections()
      server.close(() => process.exit(0))
    }
  })
  process.on("disconnect", () => process.exit(0))
  server.listen({ port: 0, host: "127.0.0.1" }, () =>
    process.send?.({ type: "ready", port: (server.address() as AddressInfo).port })
  )
}

/** Forks this file as the server, at the lowest priority (as the other SSE benchmarks' server). */
const startServer = (): Promise<{ readonly url: string; readonly stop: () => Promise<void> }> =>
  new Promise((resolve, reject) => {
    const child: ChildProcess = fork(fileURLToPath(import.meta.url), ["--serve"], {
      execArgv: childExecArgv(),
      stdio: ["ignore", "inherit", "inherit", "ipc"]
    })
    if (process.env.BENCH_SERVER_PRIORITY !== "normal" && child.pid !== undefined) {
      try {
        Os.setPriority(child.pid, 19)
      } catch {
        // normal priority
      }
    }
    child.on("message", (message: { readonly type: string; readonly port?: number }) => {
      if (message.type !== "ready") return
      resolve({
        url: `http://127.0.0.1:${message.port}/v1`,
        stop: () =>
          new Promise((done) => {
            child.once("exit", () => done())
            child.send({ type: "stop" })
          })
      })
    })
    child.once("error", reject)
  })

// the contenders

type Contender = "floor" | "sdk" | "harness"
type Reader = (model: string) => Promise<number>

const requestBody = (model: string) =>
  JSON.stringify({
    model,
    messages: [{ role: "user", content: PROMPT }],
    stream: true,
    stream_options: { include_usage: true }
  })

/** `node:http`, lines split by hand, every `data:` line but `[DONE]` parsed; counts content deltas. */
const floor = (baseURL: string): Reader => {
  const agent = new Http.Agent({ keepAlive: true })
  const url = new URL(`${baseURL}/chat/completions`)
  return (model) =>
    new Promise((resolve, reject) => {
      const body = requestBody(model)
      const req = Http.request(
        url,
        {
          method: "POST",
          agent,
          headers: {
            "content-type": "application/json",
            "content-length": Buffer.byteLength(body),
            authorization: `Bearer ${API_KEY}`
          }
        },
        (res) => {
          res.setEncoding("utf8")
          let rest = ""
          let count = 0
          res.on("data", (text: string) => {
            const lines = (rest + text).split("\n")
            rest = lines.pop()!
            for (const line of lines) {
              if (!line.startsWith("data: ") || line === "data: [DONE]") continue
              const chunk = JSON.parse(line.slice(6)) as { choices: Array<{ delta?: { content?: string } }> }
              const content = chunk.choices[0]?.delta?.content
              if (content !== undefined && content !== "") count++
            }
          })
          res.on("end", () => resolve(count))
          res.on("error", reject)
        }
      )
      req.on("error", reject)
      req.end(body)
    })
}

/** The raw SDK: `for await` over `chat.completions.create({ stream: true })`; counts content deltas. */
const sdk = (baseURL: string): Reader => {
  const client = new OpenAISdk({ apiKey: API_KEY, baseURL, maxRetries: 0 })
  return async (model) => {
    const stream = await client.chat.completions.create({
      model,
      messages: [{ role: "user", content: PROMPT }],
      stream: true,
      stream_options: { include_usage: true }
    })
    let count = 0
    for await (const chunk of stream) {
      const content = chunk.choices[0]?.delta?.content
      if (content !== undefined && content !== null && content !== "") count++
    }
    return count
  }
}

/** The harness: `agent.runStream(prompt)` over `OpenAI.layer`; counts text deltas. */
const harness = (baseURL: string): Reader => {
  const agents = new Map<string, Agent.Agent>()
  return (model) => {
    let agent = agents.get(model)
    if (agent === undefined) {
      agent = Effect.runSync(
        Agent.make({ builtinTools: false }).pipe(Effect.provide(OpenAI.layer({ model, apiKey: API_KEY, baseURL })))
      )
      agents.set(model, agent)
    }
    let count = 0
    return Effect.runPromise(
      agent.runStream(PROMPT).pipe(
        Stream.runForEach((event) =>
          Effect.sync(() => {
            if (event.type === "content_block_delta") count++
          })
        ),
        Effect.map(() => count)
      )
    )
  }
}

const readers: Record<Contender, (baseURL: string) => Reader> = { floor, sdk, harness }

/**
 * Streams `n` deltas `repetitions` times per contender and returns the table rows.
 * @since 0.2.0
 */
export const benchOpenAI = async (options: {
  readonly n: number
  readonly repetitions: number
}): Promise<ReadonlyArray<Row>> => {
  const { n, repetitions } = options
  const contenders: ReadonlyArray<Contender> = ["floor", "sdk", "harness"]
  const server = await startServer()
  try {
    const read = new Map(contenders.map((c) => [c, readers[c](server.url)]))
    for (const c of contenders) await read.get(c)!(`stream:${Math.min(n, 50_000)}`)
    const reps: Array<Record<Contender, { wallMs: number; cpuMs: number }>> = []
    for (const order of rotations(contenders, repetitions)) {
      const rep = {} as Record<Contender, { wallMs: number; cpuMs: number }>
      for (const contender of order) {
        collectGarbage()
        const cpu0 = process.cpuUsage()
        const t0 = performance.now()
        const deltas = await read.get(contender)!(`stream:${n}`)
        const wallMs = performance.now() - t0
        const cpu = process.cpuUsage(cpu0)
        if (deltas !== n) throw new Error(`${contender} read ${deltas} deltas, expected ${n}`)
        rep[contender] = { wallMs, cpuMs: (cpu.user + cpu.system) / 1000 }
      }
      reps.push(rep)
    }
    const benchmark = `openai N=${n.toLocaleString("en-US")}`
    const rows: Array<Row> = contenders.map((contender) => ({
      benchmark,
      contender,
      value: median(reps.map((rep) => (n / rep[contender].wallMs) * 1000)),
      unit: "deltas/s",
      detail: { wallMs: reps.map((rep) => rep[contender].wallMs), cpuMs: reps.map((rep) => rep[contender].cpuMs) }
    }))
    for (const contender of ["floor", "harness"] as const) {
      const wall = median(reps.map((rep) => rep[contender].wallMs / rep.sdk.wallMs))
      const target = contender === "harness" && n >= 1_000_000 ? 1 : undefined
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
        value: median(reps.map((rep) => rep[contender].cpuMs / rep.sdk.cpuMs)),
        unit: "x",
        detail: reps.map((rep) => rep[contender].cpuMs / rep.sdk.cpuMs)
      })
    }
    return rows
  } finally {
    await server.stop()
  }
}

if (process.argv.includes("--serve")) serve()
else if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const rows = await benchOpenAI({ n: Number(process.argv[2] ?? 1_000_000), repetitions: Number(process.argv[3] ?? 3) })
  console.log(formatTable(rows))
}
