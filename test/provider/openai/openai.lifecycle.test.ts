/**
 * The OpenAI-compatible layer owns its connections, as the Anthropic one does: its keep-alive pool
 * is made when the layer is built and its sockets are destroyed when the layer's scope closes (not
 * left to the pool's idle expiry, 4 s, or to process exit).
 */
import { assert, describe, it } from "@effect/vitest"
import { Context, Effect, Exit, Layer, Scope, Stream } from "effect"
import * as Message from "../../../src/core/Message.js"
import * as OpenAI from "../../../src/provider/openai/OpenAI.js"
import * as Provider from "../../../src/provider/Provider.js"
import { eventually } from "../../utils/eventually.js"
import * as OpenAIServer from "../../utils/openaiServer.js"

const request: Provider.Request = { messages: [Message.user("hi")], tools: [] }

describe("OpenAI layer lifecycle", () => {
  it.live("closing a provider layer closes its sockets", () =>
    Effect.gen(function* () {
      const server = yield* OpenAIServer.make({
        default: { sse: OpenAIServer.sse(OpenAIServer.textChunks(["Hello", " there"])) }
      })
      const scope = yield* Scope.make()
      const context = yield* Layer.buildWithScope(
        OpenAI.layer({ model: "gpt-test", apiKey: "sk-test", baseURL: server.url }),
        scope
      )
      const provider = Context.get(context, Provider.Provider)
      // three turns at once: three connections, kept alive in the layer's pool afterwards
      yield* Effect.forEach([1, 2, 3], () => Stream.runDrain(provider.stream(request)), { concurrency: 3 })
      assert.strictEqual(server.requests.length, 3)
      assert.strictEqual(server.openSockets(), 3, "the pool keeps the connections alive after the turns")
      yield* Scope.close(scope, Exit.void)
      // well before the pool's own idle expiry (4 s)
      assert.isTrue(yield* eventually(() => server.openSockets() === 0, 1_000), "the server saw every socket close")
    })
  )
})
