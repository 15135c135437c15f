import { afterAll, beforeAll } from "@effect/vitest"
import { Context, Effect, Exit, Layer, Scope } from "effect"
import * as SessionStore from "../../src/store/SessionStore.js"
import { storeContract } from "./contract.js"

// one instance for the whole suite: a memory store has nothing to restart from
const scope = Scope.makeUnsafe()
let service: SessionStore.Service | undefined

beforeAll(async () => {
  const context = await Effect.runPromise(Layer.buildWithScope(SessionStore.layerMemory(), scope))
  service = Context.get(context, SessionStore.SessionStore)
})
afterAll(() => Effect.runPromise(Scope.close(scope, Exit.void)))

storeContract({
  name: "layerMemory",
  layer: () => Layer.succeed(SessionStore.SessionStore, service!),
  persistent: false
})
