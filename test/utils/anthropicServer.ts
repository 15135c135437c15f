/**
 * A local HTTP server that speaks the Anthropic Messages API from scripted replies, for tests and
 * benchmarks that run the real `@anthropic-ai/sdk` client against it through `baseURL`.
 *
 * Each `POST /v1/messages` takes the next scripted {@link Reply} (or the default one): a JSON
 * answer with any status and headers, pre-rendered SSE bytes written in chunks of a chosen size
 * (1 = a byte at a time) with optional delays, a connection dropped or stalled after some bytes,
 * or no answer at all. Every request is recorded (parsed body, headers), and for every request
 * the server tells whether the client closed it before the reply was finished, so interruption
 * tests can assert that the HTTP request was really aborted.
 *
 * Use {@link make} as a scoped Effect resource or {@link start} from plain async code; both close
 * every socket when released.
 *
 * @example
 * ```ts
 * const server = yield* AnthropicServer.make
 * server.enqueue({ sse: AnthropicServer.fixture("text.sse") })
 * const client = new Anthropic({ apiKey: "test", baseURL: server.url })
 * ```
 */
import { readFileSync } from "node:fs"
import * as Http from "node:http"
import type { AddressInfo, Socket } from "node:net"
import { Effect, type Scope } from "effect"

// replies

/**
 * A JSON (or raw text) answer.
 */
export interface JsonReply {
  readonly status?: number | undefined
  readonly headers?: Readonly<Record<string, string>> | undefined
  /** Serialised with `JSON.stringify`. */
  readonly json?: unknown
  /** A raw body instead of `json` (e.g. a non-JSON error page). */
  readonly body?: string | undefined
  /** Wait this long before sending the headers. */
  readonly headersDelayMs?: number | undefined
}

/**
 * A streamed answer: `sse` is the exact bytes of the event stream.
 */
export interface SseReply {
  readonly sse: string | Uint8Array
  readonly status?: number | undefined
  readonly headers?: Readonly<Record<string, string>> | undefined
  /** Bytes per write; 1 writes a byte at a time. Default: everything in one write. */
  readonly chunkSize?: number | undefined
  /** Pause between writes; default: none beyond yielding to the event loop. */
  readonly delayMs?: number | undefined
  /** Destroy the socket after writing this many bytes (a dropped connection). */
  readonly dropAfterBytes?: number | undefined
  /** Stop writing after this many bytes but keep the connection open. */
  readonly stallAfterBytes?: number | undefined
  /** Wait this long before sending the headers. */
  readonly headersDelayMs?: number | undefined
}

/**
 * Accept the request and never answer it (until the client gives up or the server closes).
 */
export interface HangReply {
  readonly hang: true
}

/**
 * One scripted answer to one request.
 */
export type Reply = JsonReply | SseReply | HangReply

/**
 * A scripted answer, or a function that picks it from the request (to answer by model name, or
 * to check what a retry sent).
 */
export type Script = Reply | ((request: RecordedRequest) => Reply)

/**
 * A request the server received.
 */
export interface RecordedRequest {
  readonly index: number
  readonly method: string
  readonly url: string
  readonly headers: Http.IncomingHttpHeaders
  /** The raw body text. */
  readonly text: string
  /** The body parsed as JSON, or `undefined` when it is not JSON. */
  // biome-ignore lint/suspicious/noExplicitAny: wire JSON that tests index into freely
  readonly body: any
}

/**
 * How a request ended on the server side.
 *
 * - `completed`: the server wrote its whole reply.
 * - `clientClosed`: the client closed the connection (aborted) before the reply was complete.
 * - `dropped`: the server dropped the connection on purpose (`dropAfterBytes`).
 * - `serverClosed`: the server was closed while the request was still open.
 */
export type Outcome = "completed" | "clientClosed" | "dropped" | "serverClosed"

/**
 * A running test server.
 */
export interface AnthropicServer {
  /** The `baseURL` for the SDK client, e.g. `http://127.0.0.1:43210`. */
  readonly url: string
  /** Every request received so far, in order. */
  readonly requests: ReadonlyArray<RecordedRequest>
  /** Appends replies; each request takes the next one. */
  readonly enqueue: (...replies: ReadonlyArray<Script>) => void
  /** The reply used when the script is empty (default: a 500 JSON error). */
  readonly setDefault: (reply: Script) => void
  /** Resolves with the request once request `index` (0-based) has arrived. */
  readonly request: (index: number) => Promise<RecordedRequest>
  /** Resolves with how request `index` ended, once it has ended. */
  readonly outcome: (index: number) => Promise<Outcome>
  /** How many requests the client closed before their reply was complete. */
  readonly clientClosedCount: () => number
  /** How many TCP connections are open right now. */
  readonly openSockets: () => number
  /** Closes the server and destroys every open socket. */
  readonly close: () => Promise<void>
}

// rendering

/**
 * Renders events as SSE: `event: <type>\ndata: <json>\n\n` per event.
 */
export const sse = (events: ReadonlyArray<{ readonly type: string }>): string => {
  let out = ""
  for (const event of events) out += `event: ${event.type}\ndata: ${JSON.stringify(event)}\n\n`
  return out
}

/**
 * Parses SSE text back into its JSON data objects (every `data:` payload that is JSON), in order.
 */
// biome-ignore lint/suspicious/noExplicitAny: wire JSON that tests index into freely
export const parseSse = (text: string): Array<any> => {
  // biome-ignore lint/suspicious/noExplicitAny: as above
  const out: Array<any> = []
  for (const frame of text.split(/\r?\n\r?\n/)) {
    const data = frame
      .split(/\r?\n/)
      .filter((line) => line.startsWith("data:"))
      .map((line) => line.slice(line.startsWith("data: ") ? 6 : 5))
      .join("\n")
    if (data.length === 0) continue
    try {
      out.push(JSON.parse(data))
    } catch {
      // not JSON: skipped
    }
  }
  return out
}

const fixturesDir = new URL("../fixtures/anthropic/", import.meta.url)

/**
 * Reads a fixture from `test/fixtures/anthropic/` as text.
 */
export const fixture = (name: string): string => readFileSync(new URL(name, fixturesDir), "utf8")

/**
 * The tool input that `tool-use.sse` streams in pieces split inside strings, escapes and numbers.
 */
export const toolUseInput = {
  location: "San Francisco, CA",
  unit: "fahrenheit",
  days: 14,
  threshold: -25,
  note: 'café "quoted" \\ ☕',
  tags: ["a", true, null]
}

/**
 * Reads a JSON fixture from `test/fixtures/anthropic/`.
 */
// biome-ignore lint/suspicious/noExplicitAny: wire JSON that tests index into freely
export const fixtureJson = (name: string): any => JSON.parse(fixture(name))

/**
 * An `error` reply in the API's shape: `{ type: "error", error: { type, message }, request_id }`.
 */
export const errorReply = (
  status: number,
  type: string,
  message: string,
  headers: Readonly<Record<string, string>> = {}
): JsonReply => ({
  status,
  headers: { "request-id": `req_test_${status}`, ...headers },
  json: { type: "error", error: { type, message }, request_id: `req_test_${status}` }
})

// server

const defaultReply: Reply = errorReply(500, "api_error", "the test server has no scripted reply left")

const isHang = (reply: Reply): reply is HangReply => "hang" in reply
const isSse = (reply: Reply): reply is SseReply => "sse" in reply

interface Waiter<A> {
  promise: Promise<A>
  resolve: (a: A) => void
  settled: boolean
}

const waiter = <A>(): Waiter<A> => {
  let resolve!: (a: A) => void
  const promise = new Promise<A>((r) => {
    resolve = r
  })
  const w: Waiter<A> = {
    promise,
    settled: false,
    resolve: (a) => {
      if (w.settled) return
      w.settled = true
      resolve(a)
    }
  }
  return w
}

const sleep = (ms: number) => new Promise<void>((resolve) => (ms > 0 ? setTimeout(resolve, ms) : setImmediate(resolve)))

/**
 * Starts a server on 127.0.0.1 at a free port.
 */
export const start = async (options?: {
  readonly replies?: ReadonlyArray<Script> | undefined
  readonly default?: Script | undefined
}): Promise<AnthropicServer> => {
  const script: Array<Script> = [...(options?.replies ?? [])]
  let fallback: Script = options?.default ?? defaultReply
  const requests: Array<RecordedRequest> = []
  const arrived = new Map<number, Waiter<RecordedRequest>>()
  const ended = new Map<number, Waiter<Outcome>>()
  const sockets = new Set<Socket>()
  let clientClosed = 0
  let received = 0
  let closing = false

  const arrivedOf = (i: number) => {
    let w = arrived.get(i)
    if (w === undefined) arrived.set(i, (w = waiter()))
    return w
  }
  const endedOf = (i: number) => {
    let w = ended.get(i)
    if (w === undefined) ended.set(i, (w = waiter()))
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
        "request-id": `req_test_${index}`,
        ...reply.headers
      })
      res.end(body, () => finish("completed"))
      return
    }
    const bytes = typeof reply.sse === "string" ? Buffer.from(reply.sse, "utf8") : Buffer.from(reply.sse)
    res.writeHead(reply.status ?? 200, {
      "content-type": "text/event-stream",
      "cache-control": "no-cache",
      "request-id": `req_test_${index}`,
      ...reply.headers
    })
    res.flushHeaders()
    const limit = Math.min(bytes.length, reply.dropAfterBytes ?? reply.stallAfterBytes ?? bytes.length)
    const size = reply.chunkSize !== undefined && reply.chunkSize > 0 ? reply.chunkSize : bytes.length || 1
    let offset = 0
    while (offset < limit) {
      if (isGone()) return
      const end = Math.min(offset + size, limit)
      const ok = res.write(bytes.subarray(offset, end))
      offset = end
      if (offset < limit) {
        if (!ok) await new Promise<void>((resolve) => res.once("drain", resolve))
        if (reply.delayMs !== undefined || size < bytes.length) await sleep(reply.delayMs ?? 0)
      }
    }
    if (isGone()) return
    if (reply.dropAfterBytes !== undefined) {
      // Let the bytes written so far reach the client, then cut the connection.
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
      if (outcome === "clientClosed") clientClosed++
      endedOf(index).resolve(outcome)
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
      arrivedOf(index).resolve(recorded)
      const next =
        req.method === "POST" && req.url?.startsWith("/v1/messages") ? (script.shift() ?? fallback) : fallback
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
    url: `http://127.0.0.1:${port}`,
    requests,
    enqueue: (...replies) => {
      script.push(...replies)
    },
    setDefault: (reply) => {
      fallback = reply
    },
    request: (index) => arrivedOf(index).promise,
    outcome: (index) => endedOf(index).promise,
    clientClosedCount: () => clientClosed,
    openSockets: () => sockets.size,
    close: () => {
      closing = true
      for (const socket of sockets) socket.destroy()
      return new Promise<void>((resolve) => server.close(() => resolve()))
    }
  }
}

/**
 * The server as a scoped resource: started on acquire, closed (every socket destroyed) on release.
 */
export const make = (options?: {
  readonly replies?: ReadonlyArray<Script> | undefined
  readonly default?: Script | undefined
}): Effect.Effect<AnthropicServer, never, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.promise(() => start(options)),
    (server) => Effect.promise(() => server.close())
  )

/**
 * Waits, in an Effect, until the server has seen request `index` end, and returns how it ended.
 */
export const awaitOutcome = (server: AnthropicServer, index: number): Effect.Effect<Outcome> =>
  Effect.promise(() => server.outcome(index))

const providerEventTypes = new Set([
  "message_start",
  "content_block_start",
  "content_block_delta",
  "content_block_stop",
  "message_delta",
  "message_stop"
])

/** The events a fixture should stream: its data objects without `ping`, `error` and unknown types. */
export const expectedEvents = (name: string) =>
  parseSse(fixture(name)).filter((event) => providerEventTypes.has(event.type))
