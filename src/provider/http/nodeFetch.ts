/**
 * A `fetch` on `node:http` / `node:https`, for the SDK client the Anthropic provider builds.
 *
 * Why: on Node, the global `fetch` (undici) hands the body to the caller through a WHATWG
 * `ReadableStream`, one promise and several allocations per network read. With 1,000 streams
 * of paced deltas (the concurrency benchmark), undici plus web streams cost more CPU than
 * everything else in the client together, and the raw SDK itself missed a 50 ms p99. Here the
 * response body is a Node stream read in paused mode, and the provider reads it directly
 * ({@link takeNodeBody}); everybody else (the SDK reading an error body, `chat` reading JSON) gets
 * an ordinary `Response` whose `body` is a lazy web stream over the same Node stream.
 *
 * What it does like `fetch`: method, headers and a string or byte body; `AbortSignal` (rejects with
 * an `AbortError` before the headers, errors the body after them, and destroys the socket either
 * way); redirects are followed (at most 20; 303, and 301/302 after a POST, become a GET without
 * body; credentials are dropped when the origin changes); `gzip`, `deflate` and `br` bodies are
 * decompressed. Connections are kept alive in the agent's pool (see `poolOptions`), which
 * `close` (or the scope of {@link scoped}) destroys. Anything it does not handle (a
 * `Request` object, a streamed or form body, `http:`/`https:` aside) goes to the global `fetch`.
 *
 * A network failure rejects with Node's own error (`ECONNREFUSED`, `ECONNRESET`, ...): the SDK wraps
 * it in its `APIConnectionError`, as it does fetch's `TypeError`.
 *
 * @internal
 */
import * as Http from "node:http"
import * as Https from "node:https"
import type { Readable } from "node:stream"
import * as Zlib from "node:zlib"
import { Effect, type Scope } from "effect"
import { NodeBody } from "./nodeBody.js"

export { NodeBody }

const abortError = (signal: AbortSignal): unknown =>
  signal.reason !== undefined ? signal.reason : new DOMException("This operation was aborted", "AbortError")

interface Claim {
  readonly body: NodeBody
  /** The web body this response was made with (a `clone()` tees it and locks it). */
  readonly web: ReadableStream<Uint8Array>
  /** Handed to the provider. */
  taken: boolean
  /** Read through the web body. */
  read: boolean
}

const claims = new WeakMap<Response, Claim>()

/**
 * The Node body behind a response of a {@link make} fetch, if nobody has read it, cloned it or
 * locked it through `response.body`; once taken, the web body can no longer be read.
 * @internal
 */
export const takeNodeBody = (response: Response): NodeBody | undefined => {
  const claim = claims.get(response)
  if (claim === undefined || claim.taken || claim.read || claim.web.locked || response.bodyUsed) return undefined
  claim.taken = true
  claims.delete(response)
  return claim.body
}

/** One pull of the web body over the claim's Node body (high-water mark 0: only when read). */
const pullInto = (claim: Claim, controller: ReadableStreamDefaultController<Uint8Array>) =>
  new Promise<void>((resolve) => {
    if (claim.taken) {
      controller.error(new TypeError("the response body was already taken"))
      return resolve()
    }
    claim.read = true
    claim.body.next(
      (chunk) => {
        if (chunk === undefined) controller.close()
        else controller.enqueue(chunk)
        resolve()
      },
      (error) => {
        controller.error(error)
        resolve()
      }
    )
  })

/** Sets what `fetch` sets on a response and a constructed one cannot: its final URL, and whether it was redirected. */
const located = (response: Response, url: string, redirected: boolean): Response => {
  Object.defineProperty(response, "url", { value: url, configurable: true })
  Object.defineProperty(response, "redirected", { value: redirected, configurable: true })
  return response
}

const nullBodyStatus = new Set([101, 103, 204, 205, 304])
const redirectStatus = new Set([301, 302, 303, 307, 308])
const credentialHeaders = ["authorization", "cookie", "proxy-authorization", "x-api-key"]
const bodyHeaders = ["content-length", "content-type", "content-encoding"]
const maxRedirects = 20

/** undici's default `headersTimeout` and `bodyTimeout`: no byte from the server for this long ends the request. */
const defaultSilenceMillis = 300_000
const silenceError = (millis: number) =>
  Object.assign(new Error(`the server sent nothing for ${millis} ms (timed out)`), { code: "ETIMEDOUT" })

interface SendOptions {
  readonly signal: AbortSignal | undefined
  readonly redirect: RequestInit["redirect"]
  readonly redirects: number
  /** Already sent again after its pooled connection was reset. */
  readonly retried: boolean
}

type Body = string | Uint8Array | undefined

/** The body as something `node:http` can write, or `false` when only the global fetch can send it. */
const bodyOf = (body: RequestInit["body"]): Body | false => {
  if (body === undefined || body === null) return undefined
  if (typeof body === "string") return body
  if (body instanceof Uint8Array) return body
  if (body instanceof ArrayBuffer) return new Uint8Array(body)
  if (ArrayBuffer.isView(body)) return new Uint8Array(body.buffer, body.byteOffset, body.byteLength)
  if (body instanceof URLSearchParams) return body.toString()
  return false
}

const decompressed = (message: Http.IncomingMessage): Readable => {
  const encoding = message.headers["content-encoding"]?.trim().toLowerCase()
  const decoder =
    encoding === "gzip" || encoding === "x-gzip"
      ? Zlib.createGunzip({ flush: Zlib.constants.Z_SYNC_FLUSH, finishFlush: Zlib.constants.Z_SYNC_FLUSH })
      : encoding === "deflate"
        ? Zlib.createInflate({ flush: Zlib.constants.Z_SYNC_FLUSH, finishFlush: Zlib.constants.Z_SYNC_FLUSH })
        : encoding === "br"
          ? Zlib.createBrotliDecompress({
              flush: Zlib.constants.BROTLI_OPERATION_FLUSH,
              finishFlush: Zlib.constants.BROTLI_OPERATION_FLUSH
            })
          : undefined
  if (decoder === undefined) return message
  message.on("error", (error) => decoder.destroy(error))
  decoder.on("close", () => message.destroy())
  return message.pipe(decoder)
}

const responseHeaders = (message: Http.IncomingMessage): Headers => {
  const headers = new Headers()
  const raw = message.rawHeaders
  for (let i = 0; i + 1 < raw.length; i += 2) headers.append(raw[i]!, raw[i + 1]!)
  return headers
}

/**
 * The connection pool, as undici's: every connection that finished a response is kept for reuse
 * (Node's default keeps 256 and closes the rest, so 1,000 streams ending together closed 744
 * sockets and the next 1,000 opened them again), and an idle one is closed after 4 s, or earlier
 * when the server's `Keep-Alive: timeout` hint says so. The timeout does not apply to a request
 * in progress.
 */
const poolOptions: Http.AgentOptions = { keepAlive: true, maxFreeSockets: Number.POSITIVE_INFINITY, timeout: 4_000 }

/**
 * Options of {@link make}: the agents it sends through (keep-alive pools of its own by default)
 * and how long the server may send nothing before the request fails (default 300 s).
 * @internal
 */
export interface Options {
  readonly http?: Http.Agent | undefined
  readonly https?: Https.Agent | undefined
  readonly silenceMillis?: number | undefined
}

/**
 * A `fetch` on `node:http` / `node:https`, with `close` to close its connections.
 * @internal
 */
export interface NodeFetch {
  (input: string | URL | Request, init?: RequestInit): Promise<Response>
  /**
   * Destroys every connection of the pools this fetch made (idle ones and ones carrying a
   * response, which then fails as a reset connection). Agents given in {@link Options} are the
   * caller's and are left alone. A request sent after `close` opens a new connection.
   */
  readonly close: () => void
}

/** What every request of one fetch goes through. */
interface Pools {
  readonly http: Http.Agent
  readonly https: Https.Agent
  readonly silenceMillis: number
}

/** One request on its way: what a retry or a redirect sends again. */
interface Outgoing {
  readonly url: URL
  readonly method: string
  readonly headers: Record<string, string>
  readonly body: Body
}

/** Sends one request and resolves with its response (after any redirects). */
const send = (pools: Pools, outgoing: Outgoing, options: SendOptions): Promise<Response> => {
  // The closures below (listeners that live as long as the response) keep this function's
  // variables alive: the request is reached only through `pending`, which is cleared once the
  // response has come, so the request JSON (a few KB per ask) is not held for the whole stream.
  let pending: Outgoing | undefined = outgoing
  const { url, method, headers } = outgoing
  return new Promise<Response>((resolve, reject) => {
    const signal = options.signal
    if (signal?.aborted) return reject(abortError(signal))
    const body = pending!.body
    const secure = url.protocol === "https:"
    const request = (secure ? Https : Http).request(url, { method, headers, agent: secure ? pools.https : pools.http })
    let message: Http.IncomingMessage | undefined
    const onAbort = () => {
      const reason = abortError(signal!)
      request.destroy(reason as Error)
      message?.destroy(reason as Error)
      reject(reason)
    }
    signal?.addEventListener("abort", onAbort, { once: true })
    const done = () => signal?.removeEventListener("abort", onAbort)
    // as undici's headersTimeout and bodyTimeout: a server silent this long is given up on
    const silence = pools.silenceMillis
    request.setTimeout(silence, () => request.destroy(silenceError(silence)))
    request.on("error", (error: NodeJS.ErrnoException) => {
      done()
      // a pooled connection the server closed just as it was reused: once more on a fresh one
      if (message === undefined && request.reusedSocket && error.code === "ECONNRESET" && !options.retried) {
        return resolve(send(pools, pending!, { ...options, retried: true }))
      }
      reject(error)
    })
    request.on("response", (response) => {
      message = response
      response.on("close", done)
      try {
        resolve(respond(pools, pending!, options, response))
      } catch (error) {
        response.destroy()
        done()
        reject(error)
      }
      // only a retry or a redirect (both decided by now) needed it
      pending = undefined
    })
    if (body !== undefined) request.end(body)
    else request.end()
  })
}

/** Follows a redirect response: the next request, as `fetch` makes it. */
const redirect = (
  pools: Pools,
  outgoing: Outgoing,
  options: SendOptions,
  status: number,
  location: string
): Promise<Response> => {
  if (options.redirect === "error") throw new TypeError(`redirect to ${location} refused (redirect: "error")`)
  if (options.redirects >= maxRedirects) throw new TypeError(`more than ${maxRedirects} redirects`)
  const { url, method } = outgoing
  const next = new URL(location, url)
  const toGet =
    (status === 303 && method !== "GET" && method !== "HEAD") ||
    ((status === 301 || status === 302) && method === "POST")
  const headers = { ...outgoing.headers }
  if (toGet) for (const name of bodyHeaders) delete headers[name]
  if (next.origin !== url.origin) for (const name of credentialHeaders) delete headers[name]
  return send(
    pools,
    { url: next, method: toGet ? "GET" : method, headers, body: toGet ? undefined : outgoing.body },
    { ...options, redirects: options.redirects + 1, retried: false }
  ).then((final) => (final.redirected ? final : located(final, final.url, true)))
}

/** The `Response` of a received message: a redirect followed, or a body handed out lazily. */
const respond = (
  pools: Pools,
  outgoing: Outgoing,
  options: SendOptions,
  response: Http.IncomingMessage
): Response | Promise<Response> => {
  const status = response.statusCode ?? 0
  const location = response.headers.location
  if (redirectStatus.has(status) && location !== undefined && options.redirect !== "manual") {
    response.resume()
    return redirect(pools, outgoing, options, status, location)
  }
  const init = { status, statusText: response.statusMessage ?? "", headers: responseHeaders(response) }
  const href = outgoing.url.href
  if (nullBodyStatus.has(status) || outgoing.method === "HEAD") {
    response.resume()
    return located(new Response(null, init), href, false)
  }
  const web = new ReadableStream<Uint8Array>(
    {
      pull: (controller) => pullInto(claim, controller),
      cancel: () => claim.body.cancel()
    },
    { highWaterMark: 0 }
  )
  const claim: Claim = { body: new NodeBody(decompressed(response)), web, taken: false, read: false }
  const result = located(new Response(web, init), href, false)
  claims.set(result, claim)
  return result
}

/** The request of a `fetch` call, or `undefined` when only the global `fetch` can send it. */
const outgoingOf = (input: string | URL | Request, init: RequestInit | undefined): Outgoing | undefined => {
  const body = bodyOf(init?.body)
  if (typeof input !== "string" && !(input instanceof URL)) return undefined
  const url = new URL(input)
  if (body === false || (url.protocol !== "http:" && url.protocol !== "https:")) return undefined
  const headers: Record<string, string> = {}
  // the SDK passes a Headers already: read it as it is instead of copying it first
  const given = init?.headers
  for (const [name, value] of given instanceof Headers ? given : new Headers(given)) headers[name] = value
  if (body !== undefined && headers["content-length"] === undefined) {
    headers["content-length"] = String(typeof body === "string" ? Buffer.byteLength(body) : body.byteLength)
  }
  return { url, method: (init?.method ?? "GET").toUpperCase(), headers, body }
}

/**
 * A `fetch` on `node:http` / `node:https`.
 * @internal
 */
export const make = (options: Options = {}): NodeFetch => {
  const ownHttp = options.http === undefined ? new Http.Agent(poolOptions) : undefined
  const ownHttps = options.https === undefined ? new Https.Agent(poolOptions) : undefined
  const pools: Pools = {
    http: options.http ?? ownHttp!,
    https: options.https ?? ownHttps!,
    silenceMillis: options.silenceMillis ?? defaultSilenceMillis
  }
  const fetch = (input: string | URL | Request, init?: RequestInit): Promise<Response> => {
    const outgoing = outgoingOf(input, init)
    if (outgoing === undefined) return globalThis.fetch(input, init)
    return send(pools, outgoing, {
      signal: init?.signal ?? undefined,
      redirect: init?.redirect,
      redirects: 0,
      retried: false
    })
  }
  const close = () => {
    ownHttp?.destroy()
    ownHttps?.destroy()
  }
  return Object.assign(fetch, { close })
}

/**
 * A {@link make} fetch whose connections are closed when the scope closes.
 * @internal
 */
export const scoped = (options: Options = {}): Effect.Effect<NodeFetch, never, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.sync(() => make(options)),
    (fetch) => Effect.sync(() => fetch.close())
  )
