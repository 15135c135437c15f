/**
 * The Anthropic layer owns its connections: its keep-alive pool is made when the layer is built
 * and its sockets are destroyed when the layer's scope closes (not left to the pool's idle expiry,
 * 4 s, or to process exit).
 */
import { assert, describe, it } from "@effect/vitest"
import { Context, Effect, Exit, Fiber, Layer, Scope, Stream } from "effect"
import * as Message from "../../../src/core/Message.js"
import * as Anthropic from "../../../src/provider/anthropic/Anthropic.js"
import * as Provider from "../../../src/provider/Provider.js"
import * as AnthropicServer from "../../utils/anthropicServer.js"
import { eventually } from "../../utils/eventually.js"
import { assertLayerClosesSockets } from "../../utils/layerSockets.js"

const request: Provider.Request = { messages: [Message.user("hi")], tools: [] }

describe("Anthropic layer lifecycle", () => {
  it.live("closing a provider layer closes its sockets", () =>
    Effect.gen(function* () {
      const server = yield* AnthropicServer.make({ default: { sse: AnthropicServer.fixture("text.sse") } })
      yield* assertLayerClosesSockets(
        Anthropic.layer({ model: "claude-test", apiKey: "sk-test", baseURL: server.url }),
        server
      )
    })
  )

  it.live("closing the layer's scope mid-stream ends the turn with a connection error", () =>
    Effect.gen(function* () {
      const server = yield* AnthropicServer.make({
        replies: [{ sse: AnthropicServer.fixture("text.sse"), stallAfterBytes: 200 }]
      })
      const scope = yield* Scope.make()
      const context = yield* Layer.buildWithScope(
        Anthropic.layer({ model: "claude-test", apiKey: "sk-test", baseURL: server.url }),
        scope
      )
      const provider = Context.get(context, Provider.Provider)
      const fiber = yield* Effect.forkChild(Effect.exit(Stream.runDrain(provider.stream(request))))
      yield* Effect.promise(() => server.request(0))
      assert.isTrue(yield* eventually(() => server.openSockets() === 1, 1_000))
      yield* Scope.close(scope, Exit.void)
      assert.strictEqual(
        yield* AnthropicServer.awaitOutcome(server, 0).pipe(Effect.timeout("2 seconds")),
        "clientClosed"
      )
      assert.isTrue(yield* eventually(() => server.openSockets() === 0, 1_000))
      const exit = yield* Fiber.await(fiber)
      assert.isTrue(Exit.isSuccess(exit) && Exit.isFailure(exit.value), "the stream failed")
    })
  )
})
