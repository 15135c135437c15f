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
 * decompressed. Connections are kept alive in the agent's pool (see `poolOptions`). Anything it does not handle (a
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

/**
 * Pull-based access to a Node readable: `next` hands over everything buffered, or waits for the
 * next chunk, the end, or an error. One caller at a time.
 * @internal
 */
export class NodeBody {
  private waiter: ((result: Uint8Array | undefined) => void) | undefined = undefined
  private onError: ((error: unknown) => void) | undefined = undefined
  private error: unknown = undefined
  private ended = false

  constructor(private readonly source: Readable) {
    source.on("readable", this.wake)
    source.on("end", () => {
      this.ended = true
      this.wake()
    })
    source.on("error", (error) => {
      if (this.error === undefined) this.error = error
      this.wake()
    })
    source.on("close", () => {
      // closed before its end without an error event (destroyed): a cut-short body
      if (!this.ended && this.error === undefined) this.error = connectionReset()
      this.wake()
    })
  }

  /** Calls `onChunk` with the next bytes (`undefined` at the end), or `onError`; maybe synchronously. */
  next(onChunk: (chunk: Uint8Array | undefined) => void, onError: (error: unknown) => void): void {
    const chunk = this.source.read() as Uint8Array | null
    if (chunk !== null) onChunk(chunk)
    else if (this.error !== undefined) onError(this.error)
    else if (this.ended) onChunk(undefined)
    else {
      this.waiter = onChunk
      this.onError = onError
    }
  }

  /** Stops reading and releases the connection (it is not reused). */
  cancel(): void {
    this.ended = true
    this.source.destroy()
  }

  private readonly wake = (): void => {
    const waiter = this.waiter
    const onError = this.onError
    if (waiter === undefined || onError === undefined) return
    this.waiter = undefined
    this.onError = undefined
    this.next(waiter, onError)
  }
}

const connectionReset = () =>
  Object.assign(new Error("the connection closed before the response ended"), { code: "ECONNRESET" })

const abortError = (signal: AbortSignal): unknown =>
  signal.reason !== undefined ? signal.reason : new DOMException("This operation was aborted", "AbortError")

interface Claim {
  readonly body: NodeBody
  taken: boolean
}

const claims = new WeakMap<Response, Claim>()

/**
 * The Node body behind a response of a {@link make} fetch, if nobody has read it through
 * `response.body` yet; once taken, `response.body` can no longer be read.
 * @internal
 */
export const takeNodeBody = (response: Response): NodeBody | undefined => {
  const claim = claims.get(response)
  if (claim === undefined || claim.taken || response.bodyUsed || response.body?.locked) return undefined
  claim.taken = true
  claims.delete(response)
  return claim.body
}

/** A web stream over the claim's Node body, pulling only when read (high-water mark 0). */
const webBody = (claim: Claim): ReadableStream<Uint8Array> =>
  new ReadableStream<Uint8Array>(
    {
      pull: (controller) =>
        new Promise<void>((resolve) => {
          if (claim.taken) {
            controller.error(new TypeError("the response body was already taken"))
            return resolve()
          }
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
        }),
      cancel: () => claim.body.cancel()
    },
    { highWaterMark: 0 }
  )

const nullBodyStatus = new Set([101, 103, 204, 205, 304])
const redirectStatus = new Set([301, 302, 303, 307, 308])
const credentialHeaders = ["authorization", "cookie", "proxy-authorization", "x-api-key"]
const maxRedirects = 20

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
 * The agents a {@link make} fetch sends through.
 * @internal
 */
export interface Agents {
  readonly http: Http.Agent
  readonly https: Https.Agent
}

/**
 * A `fetch` on `node:http` / `node:https` (keep-alive agents of its own unless given some).
 * @internal
 */
export const make = (agents?: Partial<Agents>): typeof globalThis.fetch => {
  const http = agents?.http ?? new Http.Agent(poolOptions)
  const https = agents?.https ?? new Https.Agent(poolOptions)

  const send = (
    url: URL,
    method: string,
    headers: Record<string, string>,
    body: Body,
    signal: AbortSignal | undefined,
    redirects: number
  ): Promise<Response> =>
    new Promise<Response>((resolve, reject) => {
      if (signal?.aborted) return reject(abortError(signal))
      const secure = url.protocol === "https:"
      const request = (secure ? Https : Http).request(url, {
        method,
        headers,
        agent: secure ? https : http
      })
      let message: Http.IncomingMessage | undefined
      const onAbort = () => {
        const reason = abortError(signal!)
        request.destroy(reason as Error)
        message?.destroy(reason as Error)
        reject(reason)
      }
      signal?.addEventListener("abort", onAbort, { once: true })
      const done = () => signal?.removeEventListener("abort", onAbort)
      request.on("error", (error) => {
        done()
        reject(error)
      })
      request.on("response", (response) => {
        message = response
        response.on("close", done)
        const status = response.statusCode ?? 0
        const location = response.headers.location
        if (redirectStatus.has(status) && location !== undefined) {
          response.resume()
          done()
          if (redirects >= maxRedirects) return reject(new TypeError(`more than ${maxRedirects} redirects`))
          const next = new URL(location, url)
          const toGet = status === 303 || ((status === 301 || status === 302) && method === "POST")
          const nextHeaders = { ...headers }
          if (toGet) {
            for (const name of ["content-length", "content-type", "content-encoding"]) delete nextHeaders[name]
          }
          if (next.origin !== url.origin) for (const name of credentialHeaders) delete nextHeaders[name]
          return resolve(
            send(next, toGet ? "GET" : method, nextHeaders, toGet ? undefined : body, signal, redirects + 1)
          )
        }
        const init = { status, statusText: response.statusMessage ?? "", headers: responseHeaders(response) }
        if (nullBodyStatus.has(status) || method === "HEAD") {
          response.resume()
          return resolve(new Response(null, init))
        }
        const claim: Claim = { body: new NodeBody(decompressed(response)), taken: false }
        const result = new Response(webBody(claim), init)
        claims.set(result, claim)
        resolve(result)
      })
      if (body !== undefined) request.end(body)
      else request.end()
    })

  return (input, init) => {
    const body = bodyOf(init?.body)
    if (typeof input !== "string" && !(input instanceof URL)) return globalThis.fetch(input, init)
    const url = new URL(input)
    if (body === false || (url.protocol !== "http:" && url.protocol !== "https:")) return globalThis.fetch(input, init)
    const headers: Record<string, string> = {}
    for (const [name, value] of new Headers(init?.headers)) headers[name] = value
    if (body !== undefined && headers["content-length"] === undefined) {
      headers["content-length"] = String(typeof body === "string" ? Buffer.byteLength(body) : body.byteLength)
    }
    return send(url, (init?.method ?? "GET").toUpperCase(), headers, body, init?.signal ?? undefined, 0)
  }
}
