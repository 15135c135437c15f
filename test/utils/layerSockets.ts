/**
 * The check both provider layers' lifecycle tests make: three turns at once through a layer built
 * in a scope of its own leave three pooled connections, and closing that scope closes them, well
 * before the pool's own idle expiry (4 s).
 */
import { assert } from "@effect/vitest"
import { Context, Effect, Exit, Layer, Scope, Stream } from "effect"
import * as Message from "../../src/core/Message.js"
import * as Provider from "../../src/provider/Provider.js"
import { eventually } from "./eventually.js"

const request: Provider.Request = { messages: [Message.user("hi")], tools: [] }

/** A local server as the check reads it: the requests it answered and its open sockets. */
export interface SocketServer {
  readonly requests: { readonly length: number }
  readonly openSockets: () => number
}

/** Builds `layer` in a scope, runs three turns at once, closes the scope: every socket closes. */
export const assertLayerClosesSockets = <E>(
  layer: Layer.Layer<Provider.Provider, E>,
  server: SocketServer
): Effect.Effect<void, E | Provider.ProviderFailure> =>
  Effect.gen(function* () {
    const scope = yield* Scope.make()
    const context = yield* Layer.buildWithScope(layer, scope)
    const provider = Context.get(context, Provider.Provider)
    // three turns at once: three connections, kept alive in the layer's pool afterwards
    yield* Effect.forEach([1, 2, 3], () => Stream.runDrain(provider.stream(request)), { concurrency: 3 })
    assert.strictEqual(server.requests.length, 3)
    assert.strictEqual(server.openSockets(), 3, "the pool keeps the connections alive after the turns")
    yield* Scope.close(scope, Exit.void)
    // well before the pool's own idle expiry (4 s)
    assert.isTrue(yield* eventually(() => server.openSockets() === 0, 1_000), "the server saw every socket close")
  })
