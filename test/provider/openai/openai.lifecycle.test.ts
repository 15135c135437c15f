/**
 * The OpenAI-compatible layer owns its connections, as the Anthropic one does: its keep-alive pool
 * is made when the layer is built and its sockets are destroyed when the layer's scope closes (not
 * left to the pool's idle expiry, 4 s, or to process exit).
 */
import { describe, it } from "@effect/vitest"
import { Effect } from "effect"
import * as OpenAI from "../../../src/provider/openai/OpenAI.js"
import { assertLayerClosesSockets } from "../../utils/layerSockets.js"
import * as OpenAIServer from "../../utils/openaiServer.js"

describe("OpenAI layer lifecycle", () => {
  it.live("closing a provider layer closes its sockets", () =>
    Effect.gen(function* () {
      const server = yield* OpenAIServer.make({
        default: { sse: OpenAIServer.sse(OpenAIServer.textChunks(["Hello", " there"])) }
      })
      yield* assertLayerClosesSockets(
        OpenAI.layer({ model: "gpt-test", apiKey: "sk-test", baseURL: server.url }),
        server
      )
    })
  )
})
