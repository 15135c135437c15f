/**
 * The `node:http` transport of the Anthropic provider (the default): what it must do like the
 * global `fetch` beyond the provider suites (which run on both transports), against real local
 * HTTP and HTTPS servers and the real SDK: compressed bodies, redirects, aborts, TLS, and handing
 * the body either to the provider directly or to anyone else as a web stream.
 */
import { readFileSync } from "node:fs"
import * as Http from "node:http"
import * as Https from "node:https"
import type { AddressInfo } from "node:net"
import * as Zlib from "node:zlib"
import AnthropicSdk from "@anthropic-ai/sdk"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Layer, Redacted, Stream } from "effect"
import * as Message from "../../../src/core/Message.js"
import * as Anthropic from "../../../src/provider/anthropic/Anthropic.js"
import * as NodeFetch from "../../../src/provider/http/nodeFetch.js"
import * as Provider from "../../../src/provider/Provider.js"
import * as AnthropicServer from "../../utils/anthropicServer.js"

const KEY = "sk-ant-api03-TRANSPORT-TEST"
const MODEL = "claude-sonnet-4-6"
const request: Provider.Request = { messages: [Message.user("hi")], tools: [] }
const tls = (name: string) => readFileSync(new URL(`../../fixtures/tls/${name}`, import.meta.url))

interface Seen {
  readonly method: string
  readonly url: string
  readonly headers: Http.IncomingHttpHeaders
  readonly body: string
}

type Handler = (req: Http.IncomingMessage, res: Http.ServerResponse, seen: Seen) => void

/** A local server (HTTP, or HTTPS with the test certificate) that records requests; closed with the scope. */
const serve = (handler: Handler, secure = false) =>
  Effect.acquireRelease(
    Effect.callback<{ readonly url: string; readonly seen: Array<Seen>; readonly server: Http.Server }>((resume) => {
      const seen: Array<Seen> = []
      const listener: Http.RequestListener = (req, res) => {
        const chunks: Array<Buffer> = []
        req.on("data", (chunk: Buffer) => chunks.push(chunk))
        req.on("end", () => {
          const entry = {
            method: req.method ?? "",
            url: req.url ?? "",
            headers: req.headers,
            body: Buffer.concat(chunks).toString("utf8")
          }
          seen.push(entry)
          handler(req, res, entry)
        })
      }
      const server = secure
        ? Https.createServer({ key: tls("localhost.key"), cert: tls("localhost.crt") }, listener)
        : Http.createServer(listener)
      server.listen(0, "127.0.0.1", () => {
        const { port } = server.address() as AddressInfo
        resume(Effect.succeed({ url: `${secure ? "https" : "http"}://127.0.0.1:${port}`, seen, server }))
      })
    }),
    ({ server }) =>
      Effect.callback<void>((resume) => {
        server.closeAllConnections()
        server.close(() => resume(Effect.void))
      })
  )

const sse = AnthropicServer.fixture("text.sse")
const message = AnthropicServer.fixtureJson("message.json")

const providerAt = (baseURL: string) => Anthropic.make({ model: MODEL, apiKey: Redacted.make(KEY), baseURL })

const streamText = (provider: Provider.Service) =>
  Stream.runCollect(provider.stream(request)).pipe(
    Effect.map((events) =>
      Array.from(events)
        .map((e) =>
          e.type === "content_block_delta" && e.delta.type === "text_delta"
            ? (e.delta as { readonly text: string }).text
            : ""
        )
        .join("")
    )
  )

/** The text of `text.sse`, read over the fetch transport for comparison. */
const expectedText = Effect.scoped(
  Effect.gen(function* () {
    const server = yield* serve((_, res) => {
      res.writeHead(200, { "content-type": "text/event-stream" })
      res.end(sse)
    })
    return yield* streamText(
      yield* Anthropic.make({ model: MODEL, apiKey: KEY, baseURL: server.url, transport: "fetch" })
    )
  })
)

describe("node transport: bodies", () => {
  for (const [encoding, compress] of [
    ["gzip", Zlib.gzipSync],
    ["deflate", Zlib.deflateSync],
    ["br", Zlib.brotliCompressSync]
  ] as const) {
    it.live(`a ${encoding}-compressed stream and message are decompressed`, () =>
      Effect.gen(function* () {
        const server = yield* serve((_, res, seen) => {
          const streaming = (JSON.parse(seen.body) as { stream?: boolean }).stream === true
          res.writeHead(200, {
            "content-type": streaming ? "text/event-stream" : "application/json",
            "content-encoding": encoding
          })
          res.end(compress(streaming ? sse : JSON.stringify(message)))
        })
        const provider = yield* providerAt(server.url)
        assert.strictEqual(yield* streamText(provider), yield* expectedText)
        const response = yield* provider.chat(request)
        assert.strictEqual(response.id, message.id)
      })
    )
  }

  it.live("an error body is read by the SDK through the web body, and mapped", () =>
    Effect.gen(function* () {
      const server = yield* serve((_, res) => {
        res.writeHead(429, { "content-type": "application/json", "retry-after": "3" })
        res.end(JSON.stringify({ type: "error", error: { type: "rate_limit_error", message: "Slow down please" } }))
      })
      const provider = yield* providerAt(server.url)
      const error = yield* Effect.flip(Stream.runDrain(provider.stream(request)))
      assert.strictEqual(error._tag, "ProviderError")
      if (error._tag === "ProviderError") {
        assert.strictEqual(error.reason, "RateLimited")
        assert.include(error.message, "Slow down please")
        assert.strictEqual(error.retryAfter, 3000)
      }
    })
  )

  it.live("the provider takes the Node body once; after that the web body cannot be read", () =>
    Effect.gen(function* () {
      const server = yield* serve((_, res) => {
        res.writeHead(200, { "content-type": "text/plain" })
        res.end("hello")
      })
      const fetch = NodeFetch.make()
      const taken = yield* Effect.promise(() => fetch(server.url))
      const body = NodeFetch.takeNodeBody(taken)
      assert.isDefined(body)
      assert.isUndefined(NodeFetch.takeNodeBody(taken), "a body is taken once")
      const failed = yield* Effect.promise(() =>
        taken.text().then(
          () => "read",
          (e: Error) => e.message
        )
      )
      assert.include(failed, "already taken")
      const chunk = yield* Effect.callback<Uint8Array | undefined>((resume) =>
        body!.next(
          (chunk) => resume(Effect.succeed(chunk)),
          (error) => resume(Effect.die(error))
        )
      )
      assert.strictEqual(Buffer.from(chunk!).toString("utf8"), "hello")

      const read = yield* Effect.promise(() => fetch(server.url))
      assert.strictEqual(yield* Effect.promise(() => read.text()), "hello")
      assert.isUndefined(NodeFetch.takeNodeBody(read), "a body read as a web stream is not handed out")

      const cloned = yield* Effect.promise(() => fetch(server.url))
      const copy = cloned.clone()
      assert.isUndefined(NodeFetch.takeNodeBody(cloned), "a cloned body is not handed out")
      assert.strictEqual(yield* Effect.promise(() => copy.text()), "hello")
      assert.strictEqual(yield* Effect.promise(() => cloned.text()), "hello")
    })
  )
})

describe("node transport: connections", () => {
  it.live("every connection of 300 concurrent streams is kept and reused by the next 300", () =>
    Effect.gen(function* () {
      let connections = 0
      const server = yield* serve((_, res) => {
        // answer late enough that all 300 requests are open at once, even on a slow machine
        setTimeout(() => {
          res.writeHead(200, { "content-type": "text/event-stream" })
          res.end(sse)
        }, 500)
      })
      server.server.on("connection", () => connections++)
      const provider = yield* providerAt(server.url)
      const round = Effect.forEach(Array.from({ length: 300 }), () => streamText(provider), {
        concurrency: "unbounded"
      })
      yield* round
      const opened = connections
      // more than Node's default pool keeps (256), or the test would not tell the difference
      assert.isAbove(opened, 256)
      yield* round
      // 300 streams at a time never need more than 300 connections (Node's default pool: 344)
      assert.isAtMost(connections, 300, "the second round reused the first round's connections")
    })
  )
})

describe("node transport: connections, resets and silence", () => {
  it.live("a pooled connection reset as it is reused is retried once on a fresh one", () =>
    Effect.gen(function* () {
      const perSocket = new Map<unknown, number>()
      let connections = 0
      const server = yield* serve((req, res) => {
        const n = (perSocket.get(req.socket) ?? 0) + 1
        perSocket.set(req.socket, n)
        // the server drops a kept-alive connection just as the client reuses it
        if (n === 2) return req.socket.destroy()
        res.writeHead(200, { "content-type": "text/plain" })
        res.end("ok")
      })
      server.server.on("connection", () => connections++)
      const fetch = NodeFetch.make()
      const first = yield* Effect.promise(() => fetch(server.url).then((r) => r.text()))
      const second = yield* Effect.promise(() => fetch(server.url).then((r) => r.text()))
      assert.deepStrictEqual([first, second], ["ok", "ok"])
      assert.strictEqual(server.seen.length, 3, "the reset request was sent again")
      assert.strictEqual(connections, 2)
    })
  )

  it.live("a server that sends nothing for the silence limit fails the request, before or after the headers", () =>
    Effect.gen(function* () {
      const server = yield* serve((req, res) => {
        if (req.url === "/headers-then-nothing") {
          res.writeHead(200, { "content-type": "text/event-stream" })
          res.write("event: ping\n")
        }
        // "/nothing": no answer at all
      })
      const fetch = NodeFetch.make({ silenceMillis: 150 })
      const before = yield* Effect.promise(() =>
        fetch(`${server.url}/nothing`).then(
          () => undefined,
          (e: NodeJS.ErrnoException) => e
        )
      )
      assert.strictEqual(before?.code, "ETIMEDOUT")
      const response = yield* Effect.promise(() => fetch(`${server.url}/headers-then-nothing`))
      const after = yield* Effect.promise(() =>
        response.text().then(
          () => undefined,
          (e: Error) => e
        )
      )
      assert.instanceOf(after, TypeError)
      assert.strictEqual(after?.message, "terminated")
    })
  )

  it.live("a completed request's silence limit does not touch its pooled connection", () =>
    Effect.gen(function* () {
      let connections = 0
      const server = yield* serve((_, res) => {
        res.writeHead(200, { "content-type": "text/plain" })
        res.end("ok")
      })
      server.server.on("connection", () => connections++)
      const fetch = NodeFetch.make({ silenceMillis: 100 })
      yield* Effect.promise(() => fetch(server.url).then((r) => r.text()))
      yield* Effect.promise(() => new Promise((resolve) => setTimeout(resolve, 300)))
      assert.strictEqual(yield* Effect.promise(() => fetch(server.url).then((r) => r.text())), "ok")
      assert.strictEqual(connections, 1)
    })
  )

  it.live("a body that cannot be decompressed is a retryable Connection error, as with fetch", () =>
    Effect.gen(function* () {
      const server = yield* serve((_, res) => {
        res.writeHead(200, { "content-type": "text/event-stream", "content-encoding": "gzip" })
        res.end("this is not gzip")
      })
      const provider = yield* providerAt(server.url)
      const error = yield* Effect.flip(Stream.runDrain(provider.stream(request)))
      assert.strictEqual(error._tag, "ProviderError")
      if (error._tag === "ProviderError") {
        assert.strictEqual(error.reason, "Connection")
        assert.isTrue(error.isRetryable)
      }
    })
  )

  it.live("a response the server gets wrong (bad Location, status 999) fails the request instead of the process", () =>
    Effect.gen(function* () {
      const server = yield* serve((req, res) => {
        if (req.url === "/bad-location") {
          res.writeHead(307, { location: "http://exa mple:99999/" })
          return res.end()
        }
        res.writeHead(999)
        res.end()
      })
      const fetch = NodeFetch.make()
      for (const path of ["/bad-location", "/bad-status"]) {
        const error = yield* Effect.promise(() =>
          fetch(`${server.url}${path}`).then(
            () => undefined,
            (e: Error) => e
          )
        )
        assert.isDefined(error, path)
      }
    })
  )
})

describe("node transport: redirects", () => {
  it.live("307 and 308 are followed with the same method and body", () =>
    Effect.gen(function* () {
      const server = yield* serve((req, res, seen) => {
        if (req.url === "/v1/messages") {
          res.writeHead(307, { location: "/moved/v1/messages" })
          return res.end()
        }
        if (req.url === "/moved/v1/messages") {
          res.writeHead(308, { location: "/final/v1/messages" })
          return res.end()
        }
        const streaming = (JSON.parse(seen.body) as { stream?: boolean }).stream === true
        res.writeHead(200, { "content-type": "text/event-stream" })
        res.end(streaming ? sse : "")
      })
      const provider = yield* providerAt(server.url)
      assert.strictEqual(yield* streamText(provider), yield* expectedText)
      assert.deepStrictEqual(
        server.seen.map((s) => [s.method, s.url]),
        [
          ["POST", "/v1/messages"],
          ["POST", "/moved/v1/messages"],
          ["POST", "/final/v1/messages"]
        ]
      )
      assert.strictEqual(server.seen[2]!.body, server.seen[0]!.body)
      // same origin: the credentials go along
      assert.strictEqual(server.seen[2]!.headers.authorization, server.seen[0]!.headers.authorization)
      assert.include(server.seen[2]!.headers.authorization, KEY)
    })
  )

  it.live("303 becomes a GET without body; credentials are not sent to another origin", () =>
    Effect.gen(function* () {
      const other = yield* serve((_, res) => {
        res.writeHead(200, { "content-type": "text/plain" })
        res.end("elsewhere")
      })
      const server = yield* serve((_, res) => {
        res.writeHead(303, { location: `${other.url}/landing` })
        res.end()
      })
      const response = yield* Effect.promise(() =>
        NodeFetch.make()(`${server.url}/start`, {
          method: "POST",
          headers: { "x-api-key": KEY, authorization: "Bearer secret", "content-type": "application/json" },
          body: JSON.stringify({ a: 1 })
        })
      )
      assert.strictEqual(yield* Effect.promise(() => response.text()), "elsewhere")
      const landed = other.seen[0]!
      assert.strictEqual(landed.method, "GET")
      assert.strictEqual(landed.body, "")
      assert.isUndefined(landed.headers["x-api-key"])
      assert.isUndefined(landed.headers.authorization)
      assert.isUndefined(landed.headers["content-type"])
    })
  )

  it.live("redirect: manual returns the redirect, error refuses it; a followed one reports its final URL", () =>
    Effect.gen(function* () {
      const server = yield* serve((req, res) => {
        if (req.url === "/from") {
          res.writeHead(302, { location: "/to" })
          return res.end()
        }
        res.writeHead(200, { "content-type": "text/plain" })
        res.end("arrived")
      })
      const fetch = NodeFetch.make()
      const manual = yield* Effect.promise(() => fetch(`${server.url}/from`, { redirect: "manual" }))
      assert.strictEqual(manual.status, 302)
      assert.strictEqual(manual.headers.get("location"), "/to")
      const refused = yield* Effect.promise(() =>
        fetch(`${server.url}/from`, { redirect: "error" }).then(
          () => undefined,
          (e: Error) => e
        )
      )
      assert.instanceOf(refused, TypeError)
      const followed = yield* Effect.promise(() => fetch(`${server.url}/from`))
      assert.strictEqual(yield* Effect.promise(() => followed.text()), "arrived")
      assert.strictEqual(followed.url, `${server.url}/to`)
      assert.isTrue(followed.redirected)
      const direct = yield* Effect.promise(() => fetch(`${server.url}/to`))
      assert.strictEqual(direct.url, `${server.url}/to`)
      assert.isFalse(direct.redirected)
    })
  )

  it.live("a redirect loop fails after 20 redirects as a connection error", () =>
    Effect.gen(function* () {
      const server = yield* serve((_, res) => {
        res.writeHead(307, { location: "/v1/messages" })
        res.end()
      })
      const provider = yield* providerAt(server.url)
      const error = yield* Effect.flip(Stream.runDrain(provider.stream(request)))
      assert.strictEqual(error._tag, "ProviderError")
      if (error._tag === "ProviderError") assert.strictEqual(error.reason, "Connection")
      assert.strictEqual(server.seen.length, 21)
    })
  )
})

describe("node transport: aborts and failures", () => {
  it.live("an abort before the headers rejects with an AbortError and closes the socket", () =>
    Effect.gen(function* () {
      let closed: (() => void) | undefined
      const socketClosed = new Promise<void>((resolve) => {
        closed = resolve
      })
      const server = yield* serve((req) => {
        req.socket.once("close", () => closed!())
      })
      const controller = new AbortController()
      const pending = NodeFetch.make()(server.url, { signal: controller.signal })
      yield* Effect.promise(() => new Promise((resolve) => setTimeout(resolve, 20)))
      controller.abort()
      const error = yield* Effect.promise(() =>
        pending.then(
          () => undefined,
          (e: Error) => e
        )
      )
      assert.strictEqual(error?.name, "AbortError")
      yield* Effect.promise(() => socketClosed)
    })
  )

  it.live("an abort after the headers errors the body", () =>
    Effect.gen(function* () {
      const server = yield* serve((_, res) => {
        res.writeHead(200, { "content-type": "text/plain" })
        res.write("first")
      })
      const controller = new AbortController()
      const response = yield* Effect.promise(() => NodeFetch.make()(server.url, { signal: controller.signal }))
      const reader = response.body!.getReader()
      const first = yield* Effect.promise(() => reader.read())
      assert.strictEqual(Buffer.from(first.value!).toString("utf8"), "first")
      controller.abort()
      const error = yield* Effect.promise(() =>
        reader.read().then(
          () => undefined,
          (e: Error) => e
        )
      )
      assert.strictEqual(error?.name, "AbortError")
    })
  )

  it.live("a connection refused is a retryable Connection error naming the URL", () =>
    Effect.gen(function* () {
      const url = yield* Effect.scoped(
        Effect.map(
          serve(() => {}),
          (server) => server.url
        )
      )
      const provider = yield* providerAt(url)
      const error = yield* Effect.flip(provider.chat(request))
      assert.strictEqual(error._tag, "ProviderError")
      if (error._tag === "ProviderError") {
        assert.strictEqual(error.reason, "Connection")
        assert.isTrue(error.isRetryable)
        assert.include(error.message, url)
      }
    })
  )
})

describe("which transport", () => {
  /** Runs `effect` with the global fetch counted, and `env` set; both restored afterwards. */
  const withCountedFetch = <A, E>(env: Record<string, string>, effect: Effect.Effect<A, E>) =>
    Effect.acquireUseRelease(
      Effect.sync(() => {
        const original = globalThis.fetch
        const saved = Object.fromEntries(Object.keys(env).map((k) => [k, process.env[k]]))
        const counter = { calls: 0 }
        globalThis.fetch = ((...args: Parameters<typeof fetch>) => {
          counter.calls++
          return original(...args)
        }) as typeof fetch
        Object.assign(process.env, env)
        return { original, saved, counter }
      }),
      ({ counter }) => Effect.map(effect, () => counter.calls),
      ({ original, saved }) =>
        Effect.sync(() => {
          globalThis.fetch = original
          for (const [k, v] of Object.entries(saved)) {
            if (v === undefined) delete process.env[k]
            else process.env[k] = v
          }
        })
    )

  const oneStream = (options: Partial<Anthropic.Options>) =>
    Effect.scoped(
      Effect.gen(function* () {
        const server = yield* serve((_, res) => {
          res.writeHead(200, { "content-type": "text/event-stream" })
          res.end(sse)
        })
        const provider = yield* Anthropic.make({ model: MODEL, apiKey: KEY, baseURL: server.url, ...options })
        return yield* streamText(provider)
      })
    )

  it.live("node:http by default, the global fetch when asked for or when a fetch option is given", () =>
    Effect.gen(function* () {
      assert.strictEqual(yield* withCountedFetch({}, oneStream({})), 0)
      assert.strictEqual(yield* withCountedFetch({}, oneStream({ transport: "fetch" })), 1)
      assert.strictEqual(
        yield* withCountedFetch({}, oneStream({ clientOptions: { fetchOptions: { keepalive: true } } })),
        1
      )
    })
  )

  it.live("NODE_USE_ENV_PROXY with a proxy set keeps the global fetch unless node is asked for", () =>
    Effect.gen(function* () {
      // the proxy is never reached: the test server is on 127.0.0.1, which NO_PROXY exempts
      const env = { NODE_USE_ENV_PROXY: "1", HTTPS_PROXY: "http://127.0.0.1:9", NO_PROXY: "127.0.0.1" }
      assert.strictEqual(yield* withCountedFetch(env, oneStream({})), 1)
      assert.strictEqual(yield* withCountedFetch(env, oneStream({ transport: "node" })), 0)
    })
  )
})

describe("node transport: HTTPS", () => {
  it.live("streams over TLS through the SDK with the node fetch", () =>
    Effect.gen(function* () {
      const server = yield* serve((_, res) => {
        res.writeHead(200, { "content-type": "text/event-stream" })
        res.end(sse)
      }, true)
      const client = new AnthropicSdk({
        apiKey: KEY,
        baseURL: server.url,
        fetch: NodeFetch.make({ https: new Https.Agent({ keepAlive: true, ca: tls("localhost.crt") }) })
      })
      const provider = yield* Provider.Provider.pipe(
        Effect.provide(Layer.fresh(Anthropic.layerFromClient(client, { model: MODEL })))
      )
      assert.strictEqual(yield* streamText(provider), yield* expectedText)
    })
  )

  it.live("a certificate that is not trusted fails as a connection error", () =>
    Effect.gen(function* () {
      const server = yield* serve((_, res) => res.end(), true)
      const provider = yield* providerAt(server.url)
      const error = yield* Effect.flip(provider.chat(request))
      assert.strictEqual(error._tag, "ProviderError")
      if (error._tag === "ProviderError") assert.strictEqual(error.reason, "Connection")
    })
  )
})
