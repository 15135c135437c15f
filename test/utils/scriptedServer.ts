/**
 * A local HTTP server that answers an API's requests from scripted replies: the part the
 * Anthropic and Chat Completions test servers (`anthropicServer.ts`, `openaiServer.ts`) share.
 * Each provider's server says which requests take a scripted reply, the header that carries the
 * request id, the path of its base URL and its default reply ({@link Api}).
 *
 * Each request the API's route takes the next scripted {@link Reply} (or the default one): a JSON
 * answer with any status and headers, pre-rendered SSE bytes written in chunks of a chosen size
 * (1 = a byte at a time) with optional delays, a connection dropped or stalled after some bytes,
 * or no answer at all. Every request is recorded (parsed body, headers), and for every request
 * the server tells whether the client closed it before the reply was finished, so interruption
 * tests can assert that the HTTP request was really aborted.
 */
import type * as Http from "node:http"
import { Effect, type Scope } from "effect"
import * as LocalServer from "./localServer.js"

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
export interface ScriptedServer {
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

/** What the server's replies and requests look like for one API. */
export interface Api {
  /** The response header that carries the request id (`req_test_<index>`). */
  readonly requestIdHeader: string
  /** Whether a request takes the next scripted reply; any other request gets the default. */
  readonly scripted: (method: string | undefined, url: string | undefined) => boolean
  /** Appended to the server's origin to make its `url`, e.g. `/v1`. */
  readonly basePath: string
  /** The reply when the script is empty and no default was set. */
  readonly defaultReply: Reply
}

/** The options of {@link start}. */
export interface Options {
  readonly replies?: ReadonlyArray<Script> | undefined
  readonly default?: Script | undefined
}

// server

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

/** The waiter of request `index` in `map`, made on first use. */
const waiterOf = <A>(map: Map<number, Waiter<A>>, index: number): Waiter<A> => {
  let w = map.get(index)
  if (w === undefined) map.set(index, (w = waiter()))
  return w
}

const sleep = (ms: number) => new Promise<void>((resolve) => (ms > 0 ? setTimeout(resolve, ms) : setImmediate(resolve)))

/** Writes a JSON (or raw text) reply. */
const writeJson = (reply: JsonReply, res: Http.ServerResponse, requestId: Record<string, string>, done: () => void) => {
  const body = reply.body ?? (reply.json === undefined ? "" : JSON.stringify(reply.json))
  res.writeHead(reply.status ?? 200, {
    "content-type": reply.body !== undefined ? "text/plain" : "application/json",
    ...requestId,
    ...reply.headers
  })
  res.end(body, done)
}

/** Writes an SSE reply's bytes up to its drop or stall point; false when the request went away meanwhile. */
const writeSse = async (
  reply: SseReply,
  res: Http.ServerResponse,
  requestId: Record<string, string>,
  isGone: () => boolean
): Promise<boolean> => {
  const bytes = typeof reply.sse === "string" ? Buffer.from(reply.sse, "utf8") : Buffer.from(reply.sse)
  res.writeHead(reply.status ?? 200, {
    "content-type": "text/event-stream",
    "cache-control": "no-cache",
    ...requestId,
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

/** Answers one request with `reply`; `finish` records how it ended, `isGone` says whether it already has. */
const serve = async (
  requestId: Record<string, string>,
  reply: Reply,
  res: Http.ServerResponse,
  finish: (outcome: Outcome) => void,
  isGone: () => boolean
) => {
  if (isHang(reply)) return
  if (reply.headersDelayMs !== undefined) await sleep(reply.headersDelayMs)
  if (isGone()) return
  if (!isSse(reply)) return writeJson(reply, res, requestId, () => finish("completed"))
  if (!(await writeSse(reply, res, requestId, isGone))) return
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

/**
 * Starts a server for `api` on 127.0.0.1 at a free port.
 */
export const start = async (api: Api, options?: Options): Promise<ScriptedServer> => {
  const script: Array<Script> = [...(options?.replies ?? [])]
  let fallback: Script = options?.default ?? api.defaultReply
  const requests: Array<RecordedRequest> = []
  const arrived = new Map<number, Waiter<RecordedRequest>>()
  const ended = new Map<number, Waiter<Outcome>>()
  let clientClosed = 0
  let received = 0
  let closing = false

  const handler = (req: Http.IncomingMessage, res: Http.ServerResponse) => {
    const index = received++
    req.socket.setNoDelay(true)
    let done = false
    const finish = (outcome: Outcome) => {
      if (done) return
      done = true
      if (outcome === "clientClosed") clientClosed++
      waiterOf(ended, index).resolve(outcome)
    }
    res.on("close", () => finish(closing ? "serverClosed" : res.writableFinished ? "completed" : "clientClosed"))
    LocalServer.readBody(req, (text, body) => {
      const recorded: RecordedRequest = {
        index,
        method: req.method ?? "",
        url: req.url ?? "",
        headers: req.headers,
        text,
        body
      }
      requests.push(recorded)
      waiterOf(arrived, index).resolve(recorded)
      const next = api.scripted(req.method, req.url) ? (script.shift() ?? fallback) : fallback
      const reply = typeof next === "function" ? next(recorded) : next
      serve({ [api.requestIdHeader]: `req_test_${index}` }, reply, res, finish, () => done).catch(() => {
        finish("clientClosed")
        res.destroy()
      })
    })
  }
  const local = await LocalServer.listen(handler, { keepAliveTimeout: 60_000 })

  return {
    url: `http://127.0.0.1:${local.port}${api.basePath}`,
    requests,
    enqueue: (...replies) => {
      script.push(...replies)
    },
    setDefault: (reply) => {
      fallback = reply
    },
    request: (index) => waiterOf(arrived, index).promise,
    outcome: (index) => waiterOf(ended, index).promise,
    clientClosedCount: () => clientClosed,
    openSockets: local.openSockets,
    close: () => {
      closing = true
      return local.close()
    }
  }
}

/**
 * The server as a scoped resource: started on acquire, closed (every socket destroyed) on release.
 */
export const make = (api: Api, options?: Options): Effect.Effect<ScriptedServer, never, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.promise(() => start(api, options)),
    (server) => Effect.promise(() => server.close())
  )

/** `start` and `make` for one API, for its server module to export. */
export const forApi = (api: Api) => ({
  /** Starts a server on 127.0.0.1 at a free port. */
  start: (options?: Options): Promise<ScriptedServer> => start(api, options),
  /** The server as a scoped resource: started on acquire, closed (every socket destroyed) on release. */
  make: (options?: Options): Effect.Effect<ScriptedServer, never, Scope.Scope> => make(api, options)
})
