/**
 * A local HTTP server that speaks the Chat Completions API from scripted replies, for tests that
 * run `OpenAI.layer` (the real `openai` SDK over real sockets) against it through `baseURL`.
 *
 * Each `POST .../chat/completions` takes the next scripted {@link Reply} (or the default one): a
 * JSON answer with any status and headers, SSE bytes written in chunks of a chosen size, a
 * connection dropped or stalled after some bytes, or no answer at all. Every request is recorded
 * (parsed body, headers), and for every request the server tells how it ended, so interruption
 * tests can assert that the client really closed it.
 *
 * @example
 * ```ts
 * const server = yield* OpenAIServer.make()
 * server.enqueue({ sse: OpenAIServer.sse(OpenAIServer.textChunks(["Hello ", "world"])) })
 * const layer = OpenAI.layer({ model: "gpt-test", apiKey: "sk-test", baseURL: server.url })
 * ```
 */
import * as Http from "node:http"
import type { AddressInfo, Socket } from "node:net"
import { Effect, type Scope } from "effect"

// replies

/** A JSON (or raw text) answer. */
export interface JsonReply {
  readonly status?: number | undefined
  readonly headers?: Readonly<Record<string, string>> | undefined
  readonly json?: unknown
  /** A raw body instead of `json`. */
  readonly body?: string | undefined
  readonly headersDelayMs?: number | undefined
}

/** A streamed answer: `sse` is the exact bytes of the event stream. */
export interface SseReply {
  readonly sse: string | Uint8Array
  readonly status?: number | undefined
  readonly headers?: Readonly<Record<string, string>> | undefined
  /** Bytes per write; 1 writes a byte at a time. Default: everything in one write. */
  readonly chunkSize?: number | undefined
  readonly delayMs?: number | undefined
  /** Destroy the socket after writing this many bytes (a dropped connection). */
  readonly dropAfterBytes?: number | undefined
  /** Stop writing after this many bytes but keep the connection open. */
  readonly stallAfterBytes?: number | undefined
  readonly headersDelayMs?: number | undefined
}

/** Accept the request and never answer it. */
export interface HangReply {
  readonly hang: true
}

/** One scripted answer to one request. */
export type Reply = JsonReply | SseReply | HangReply

/** A scripted answer, or a function that picks it from the request. */
export type Script = Reply | ((request: RecordedRequest) => Reply)

/** A request the server received. */
export interface RecordedRequest {
  readonly index: number
  readonly method: string
  readonly url: string
  readonly headers: Http.IncomingHttpHeaders
  readonly text: string
  // biome-ignore lint/suspicious/noExplicitAny: wire JSON that tests index into freely
  readonly body: any
}

/**
 * How a request ended on the server side: `completed`, `clientClosed` (the client closed it before
 * the reply was complete), `dropped` (on purpose), `serverClosed`.
 */
export type Outcome = "completed" | "clientClosed" | "dropped" | "serverClosed"

/** A running test server. */
export interface OpenAIServer {
  /** The `baseURL`, e.g. `http://127.0.0.1:43210/v1`. */
  readonly url: string
  readonly requests: ReadonlyArray<RecordedRequest>
  readonly enqueue: (...replies: ReadonlyArray<Script>) => void
  readonly setDefault: (reply: Script) => void
  /** Resolves with request `index` (0-based) once it has arrived. */
  readonly request: (index: number) => Promise<RecordedRequest>
  /** Resolves with how request `index` ended, once it has. */
  readonly outcome: (index: number) => Promise<Outcome>
  readonly openSockets: () => number
  readonly close: () => Promise<void>
}

// rendering

/** A chunk's fields besides `choices`. */
export interface ChunkOptions {
  readonly id?: string | undefined
  readonly model?: string | undefined
}

/** A `chat.completion.chunk` with one choice. */
export const chunk = (
  delta: Record<string, unknown>,
  finishReason: string | null = null,
  options: ChunkOptions = {}
): Record<string, unknown> => ({
  id: options.id ?? "chatcmpl-test",
  object: "chat.completion.chunk",
  created: 1_700_000_000,
  model: options.model ?? "gpt-test",
  choices: [{ index: 0, delta, logprobs: null, finish_reason: finishReason }]
})

/** The usage-only final chunk (`choices: []`), as `stream_options.include_usage` makes it. */
export const usageChunk = (
  usage: { readonly prompt: number; readonly completion: number; readonly cached?: number },
  options: ChunkOptions = {}
): Record<string, unknown> => ({
  id: options.id ?? "chatcmpl-test",
  object: "chat.completion.chunk",
  created: 1_700_000_000,
  model: options.model ?? "gpt-test",
  choices: [],
  usage: {
    prompt_tokens: usage.prompt,
    completion_tokens: usage.completion,
    total_tokens: usage.prompt + usage.completion,
    prompt_tokens_details: { cached_tokens: usage.cached ?? 0 }
  }
})

/** Renders payloads as SSE (`data: <json>\n\n` each), then `data: [DONE]` unless `done` is false. */
export const sse = (payloads: ReadonlyArray<unknown>, done = true): string => {
  let out = ""
  for (const payload of payloads) out += `data: ${JSON.stringify(payload)}\n\n`
  return done ? `${out}data: [DONE]\n\n` : out
}

/** A text answer: a role chunk, one content chunk per piece, the finish chunk, a usage chunk. */
export const textChunks = (
  pieces: ReadonlyArray<string>,
  options: ChunkOptions & {
    readonly finish?: string | undefined
    readonly usage?: { readonly prompt: number; readonly completion: number; readonly cached?: number } | undefined
  } = {}
): Array<Record<string, unknown>> => [
  chunk({ role: "assistant", content: "" }, null, options),
  ...pieces.map((content) => chunk({ content }, null, options)),
  chunk({}, options.finish ?? "stop", options),
  usageChunk(options.usage ?? { prompt: 12, completion: pieces.length }, options)
]

/** A tool-call answer: each call's header, then its arguments in the given pieces; finish `tool_calls`. */
export const toolCallChunks = (
  calls: ReadonlyArray<{ readonly id: string; readonly name: string; readonly pieces: ReadonlyArray<string> }>,
  options: ChunkOptions & { readonly usage?: { readonly prompt: number; readonly completion: number } } = {}
): Array<Record<string, unknown>> => [
  chunk({ role: "assistant", content: null }, null, options),
  ...calls.flatMap((call, index) => [
    chunk(
      { tool_calls: [{ index, id: call.id, type: "function", function: { name: call.name, arguments: "" } }] },
      null,
      options
    ),
    ...call.pieces.map((piece) => chunk({ tool_calls: [{ index, function: { arguments: piece } }] }, null, options))
  ]),
  chunk({}, "tool_calls", options),
  usageChunk(options.usage ?? { prompt: 20, completion: 10 }, options)
]

/** An error reply in OpenAI's shape: `{ error: { message, type, param, code } }`. */
export const errorReply = (
  status: number,
  type: string,
  message: string,
  options: { readonly code?: string | null; readonly headers?: Readonly<Record<string, string>> } = {}
): JsonReply => ({
  status,
  headers: { "x-request-id": `req_test_${status}`, ...options.headers },
  json: { error: { message, type, param: null, code: options.code ?? null } }
})

/** The byte offset just after the `n`-th SSE message of `text` (1-based). */
export const bytesThroughMessage = (text: string, n: number): number => {
  let at = 0
  for (let i = 0; i < n; i++) {
    const end = text.indexOf("\n\n", at)
    if (end === -1) return Buffer.byteLength(text)
    at = end + 2
  }
  return Buffer.byteLength(text.slice(0, at))
}

// server

const defaultReply: Reply = errorReply(500, "server_error", "the test server has no scripted reply left")

const isHang = (reply: Reply): reply is HangReply => "hang" in reply
const isSse = (reply: Reply): reply is SseReply => "sse" in reply

interface Waiter<A> {
  readonly promise: Promise<A>
  readonly resolve: (a: A) => void
}

const waiter = <A>(): Waiter<A> => {
  let resolve!: (a: A) => void
  const promise = new Promise<A>((r) => {
    resolve = r
  })
  return { promise, resolve }
}

const sleep = (ms: number) => new Promise<void>((resolve) => (ms > 0 ? setTimeout(resolve, ms) : setImmediate(resolve)))

const writeSse = async (reply: SseReply, res: Http.ServerResponse, index: number, isGone: () => boolean) => {
  const bytes = typeof reply.sse === "string" ? Buffer.from(reply.sse, "utf8") : Buffer.from(reply.sse)
  res.writeHead(reply.status ?? 200, {
    "content-type": "text/event-stream",
    "cache-control": "no-cache",
    "x-request-id": `req_test_${index}`,
    ...reply.headers
  })
  res.flushHeaders()
  const limit = Math.min(bytes.length, reply.dropAfterBytes ?? reply.stallAfterBytes ?? bytes.length)
  const size = reply.chunkSize !== undefined && reply.chunkSize > 0 ? reply.chunkSize : bytes.length || 1
  let offset = 0
  while (offset < limit) {
    if (isGone()) return false
    const end = Math.min(offset + size, limit)
    const ok = res.write(bytes.subarray(offset, end))
    offset = end
    if (offset < limit) {
      if (!ok) await new Promise<void>((resolve) => res.once("drain", resolve))
      if (reply.delayMs !== undefined || size < bytes.length) await sleep(reply.delayMs ?? 0)
    }
  }
  return !isGone()
}

/** Starts a server on 127.0.0.1 at a free port. */
export const start = async (options?: {
  readonly replies?: ReadonlyArray<Script> | undefined
  readonly default?: Script | undefined
}): Promise<OpenAIServer> => {
  const script: Array<Script> = [...(options?.replies ?? [])]
  let fallback: Script = options?.default ?? defaultReply
  const requests: Array<RecordedRequest> = []
  const arrived = new Map<number, Waiter<RecordedRequest>>()
  const ended = new Map<number, Waiter<Outcome>>()
  const sockets = new Set<Socket>()
  let received = 0
  let closing = false
  const of = <A>(map: Map<number, Waiter<A>>, i: number) => {
    let w = map.get(i)
    if (w === undefined) map.set(i, (w = waiter()))
    return w
  }

  const serve = async (
    index: number,
    reply: Reply,
    res: Http.ServerResponse,
    finish: (outcome: Outcome) => void,
    isGone: () => boolean
  ) => {
    if (isHang(reply)) return
    if (reply.headersDelayMs !== undefined) await sleep(reply.headersDelayMs)
    if (isGone()) return
    if (!isSse(reply)) {
      const body = reply.body ?? (reply.json === undefined ? "" : JSON.stringify(reply.json))
      res.writeHead(reply.status ?? 200, {
        "content-type": reply.body !== undefined ? "text/plain" : "application/json",
        "x-request-id": `req_test_${index}`,
        ...reply.headers
      })
      res.end(body, () => finish("completed"))
      return
    }
    if (!(await writeSse(reply, res, index, isGone))) return
    if (reply.dropAfterBytes !== undefined) {
      await sleep(5)
      finish("dropped")
      res.socket?.destroy()
      return
    }
    if (reply.stallAfterBytes !== undefined) return
    res.end(() => finish("completed"))
  }

  const server = Http.createServer((req, res) => {
    const index = received++
    const chunks: Array<Buffer> = []
    req.socket.setNoDelay(true)
    let done = false
    const finish = (outcome: Outcome) => {
      if (done) return
      done = true
      of(ended, index).resolve(outcome)
    }
    res.on("close", () => finish(closing ? "serverClosed" : res.writableFinished ? "completed" : "clientClosed"))
    req.on("data", (chunk: Buffer) => chunks.push(chunk))
    req.on("end", () => {
      const text = Buffer.concat(chunks).toString("utf8")
      let body: unknown
      try {
        body = JSON.parse(text)
      } catch {
        body = undefined
      }
      const recorded: RecordedRequest = {
        index,
        method: req.method ?? "",
        url: req.url ?? "",
        headers: req.headers,
        text,
        body
      }
      requests.push(recorded)
      of(arrived, index).resolve(recorded)
      const next =
        req.method === "POST" && req.url?.endsWith("/chat/completions") ? (script.shift() ?? fallback) : fallback
      const reply = typeof next === "function" ? next(recorded) : next
      serve(index, reply, res, finish, () => done).catch(() => {
        finish("clientClosed")
        res.destroy()
      })
    })
  })
  server.keepAliveTimeout = 60_000
  server.on("connection", (socket) => {
    sockets.add(socket)
    socket.on("close", () => sockets.delete(socket))
  })
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject)
    server.listen(0, "127.0.0.1", () => resolve())
  })
  const { port } = server.address() as AddressInfo
  return {
    url: `http://127.0.0.1:${port}/v1`,
    requests,
    enqueue: (...replies) => {
      script.push(...replies)
    },
    setDefault: (reply) => {
      fallback = reply
    },
    request: (index) => of(arrived, index).promise,
    outcome: (index) => of(ended, index).promise,
    openSockets: () => sockets.size,
    close: () => {
      closing = true
      for (const socket of sockets) socket.destroy()
      return new Promise<void>((resolve) => server.close(() => resolve()))
    }
  }
}

/** The server as a scoped resource: started on acquire, closed (every socket destroyed) on release. */
export const make = (options?: {
  readonly replies?: ReadonlyArray<Script> | undefined
  readonly default?: Script | undefined
}): Effect.Effect<OpenAIServer, never, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.promise(() => start(options)),
    (server) => Effect.promise(() => server.close())
  )
