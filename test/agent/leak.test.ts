/**
 * Leak check: 1,000 asks over the real Anthropic provider, each interrupted after its first
 * event, leave no socket and no timer behind (`process.getActiveResourcesInfo()`), and the server
 * sees every one of them closed by the client.
 *
 * The process's handles are compared by type with a baseline: `TCPSocketWrap` (client and server
 * ends of every connection, both in this process), `TCPServerWrap` (the server's listening handle)
 * and `Timeout` (ref'd timers). A warm-up round first lets one-off globals (fetch's dispatcher,
 * the SDK's lazy state) exist before the baseline is taken.
 */
import { assert, describe, it } from "@effect/vitest"
import { Deferred, Effect, Fiber, Stream } from "effect"
import { Agent } from "../../src/index.js"
import * as Anthropic from "../../src/provider/anthropic/Anthropic.js"
import * as AnthropicServer from "../utils/anthropicServer.js"
import * as Faults from "../utils/faults.js"

const ASKS = 1_000
const BATCH = 50
const WARM_UP = 10

/** A text turn streamed slowly: 64 bytes every 5 ms, so every ask is still streaming when interrupted. */
const slowReply: AnthropicServer.SseReply = {
  sse: Faults.textSse(["one ", "two ", "three ", "four ", "five ", "six ", "seven ", "eight ", "nine ", "ten"]),
  chunkSize: 64,
  delayMs: 5
}

const agentOn = (server: AnthropicServer.AnthropicServer) =>
  Agent.make({ builtinTools: false, retry: false }).pipe(
    Effect.provide(Anthropic.layer({ model: "claude-test", apiKey: "sk-test", baseURL: server.url }))
  )

/** One ask, interrupted (`Fiber.interrupt`) as soon as its first event has arrived. */
const interruptedAsk = (agent: Agent.Agent, i: number) =>
  Effect.gen(function* () {
    const first = yield* Deferred.make<void>()
    const fiber = yield* agent.runStream(`Question ${i}`).pipe(
      Stream.runForEach(() => Deferred.succeed(first, undefined)),
      Effect.forkChild
    )
    yield* Deferred.await(first).pipe(Effect.timeout("5 seconds"))
    yield* Fiber.interrupt(fiber)
  })

const interruptedAsks = (agent: Agent.Agent, count: number) =>
  Effect.forEach(
    Array.from({ length: Math.ceil(count / BATCH) }, (_, b) => b),
    (b) =>
      Effect.forEach(
        Array.from({ length: Math.min(BATCH, count - b * BATCH) }, (_, j) => b * BATCH + j),
        (i) => interruptedAsk(agent, i),
        { concurrency: BATCH, discard: true }
      ),
    { discard: true }
  )

/** Polls (real time) until the server has seen `count` client closes, up to 5 s. */
const clientCloses = (server: AnthropicServer.AnthropicServer, count: number) =>
  Effect.promise(async () => {
    const deadline = performance.now() + 5_000
    while (server.clientClosedCount() < count && performance.now() < deadline) {
      await new Promise<void>((resolve) => setTimeout(resolve, 25))
    }
    return server.clientClosedCount()
  })

/** Polls (real time) until no socket that carried a request is open on either side, up to 5 s. */
const usedSocketsClosed = (sockets: ReturnType<typeof Faults.trackSockets>) =>
  Effect.promise(async () => {
    const deadline = performance.now() + 5_000
    const open = () => ({ client: sockets.client(), server: sockets.server() })
    let now = open()
    while ((now.client.used > 0 || now.server.used > 0) && performance.now() < deadline) {
      await new Promise<void>((resolve) => setTimeout(resolve, 25))
      now = open()
    }
    return now
  })

describe("leaks", () => {
  it.live(
    `${ASKS} interrupted streams leave no sockets or timers behind`,
    () =>
      Effect.gen(function* () {
        const sockets = Faults.trackSockets()
        yield* Effect.addFinalizer(() => Effect.sync(sockets.stop))

        // Warm-up on a server of its own, closed afterwards.
        const warm = yield* Effect.promise(() => AnthropicServer.start({ default: slowReply }))
        yield* interruptedAsks(yield* agentOn(warm), WARM_UP)
        assert.strictEqual(yield* clientCloses(warm, WARM_UP), WARM_UP)
        yield* Effect.promise(() => warm.close())
        const before = yield* Faults.quiescent()

        const server = yield* Effect.promise(() => AnthropicServer.start({ default: slowReply }))
        const listening = yield* Faults.quiescent()
        assert.strictEqual(listening.TCPServerWrap, (before.TCPServerWrap ?? 0) + 1, "the server's listening handle")

        const agent = yield* agentOn(server)
        const started = performance.now()
        yield* interruptedAsks(agent, ASKS)
        const elapsed = performance.now() - started

        assert.strictEqual(yield* clientCloses(server, ASKS), ASKS, "the server saw every request closed by the client")
        assert.strictEqual(server.requests.length, ASKS)

        // Every socket that carried a request is closed, on both ends.
        const open = yield* usedSocketsClosed(sockets)
        assert.deepStrictEqual(
          { client: open.client.used, server: open.server.used },
          { client: 0, server: 0 },
          "sockets that carried a request are all closed"
        )
        // Node 20's fetch (undici 6) opens spare connections after a request is aborted mid-body
        // and leaves them idle in its pool (nodejs/undici#5845): bounded by the peak concurrency
        // (at most two per concurrent abort seen here), reused by later requests, never one per ask.
        assert.isAtMost(open.client.unused, 2 * BATCH, `idle spare connections after ${ASKS} asks`)
        assert.isAtMost(open.server.unused, 2 * BATCH, `idle spare connections after ${ASKS} asks (server ends)`)

        // A second round of asks reuses that pool: the spares do not grow with the number of asks.
        yield* interruptedAsks(agent, ASKS)
        assert.strictEqual(yield* clientCloses(server, 2 * ASKS), 2 * ASKS, "the second round's requests closed too")
        const again = yield* usedSocketsClosed(sockets)
        assert.deepStrictEqual({ client: again.client.used, server: again.server.used }, { client: 0, server: 0 })
        assert.isAtMost(again.server.unused, Math.max(open.server.unused, 2 * BATCH), "spares do not grow per ask")
        assert.strictEqual(server.openSockets(), again.server.unused, "the server holds only never-used connections")

        // No timer is left; the only sockets left are the server's ends of those idle spares
        // (their client ends are unref'd while idle, so not listed as active).
        const expected: Record<string, number> = {
          ...listening,
          TCPSocketWrap: (listening.TCPSocketWrap ?? 0) + again.server.unused
        }
        const after: Record<string, number> = yield* Faults.settleTo(expected)
        assert.deepStrictEqual(after, expected, `handles after ${ASKS} interrupted streams (${Math.round(elapsed)} ms)`)

        // Closing the server ends the idle spares too: back to the baseline exactly.
        yield* Effect.promise(() => server.close())
        const closed = yield* Faults.settleTo(before)
        assert.deepStrictEqual(closed, before, "handles after the server closed")
        const finalOpen = yield* Effect.promise(async () => {
          const deadline = performance.now() + 5_000
          while (sockets.client().unused + sockets.server().unused > 0 && performance.now() < deadline) {
            await new Promise<void>((resolve) => setTimeout(resolve, 25))
          }
          return { client: sockets.client(), server: sockets.server() }
        })
        assert.deepStrictEqual(finalOpen, { client: { used: 0, unused: 0 }, server: { used: 0, unused: 0 } })
      }),
    30_000
  )
})
