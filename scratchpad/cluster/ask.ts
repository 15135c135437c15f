/**
 * A client of the cluster: `npx tsx scratchpad/cluster/ask.ts <tenant> <session id> "<question>"`.
 * It creates the session when it does not exist yet, asks, streams the answer's text, and says
 * which runner answered. It serves no sessions itself (`Cluster.layerClient`).
 */
import { Console, Effect, Stream } from "effect"
import { Cluster } from "../../src/cluster/index.js"
import { StreamEvent } from "../../src/index.js"
import { connection, sharding } from "./config.js"

const [tenant = "demo", id = "s1", question = "What can you do?"] = process.argv.slice(2)

const program = Effect.gen(function* () {
  const sessions = yield* Cluster.Sessions
  const key = { tenant, id }
  yield* sessions
    .create(tenant, { id })
    .pipe(
      Effect.catchTag("StoreError", (error) => (error.reason === "AlreadyExists" ? Effect.void : Effect.fail(error)))
    )
  yield* sessions.askStream(key, question).pipe(
    Stream.runForEach((chunk) =>
      chunk._tag === "Event"
        ? Effect.sync(() => {
            const text = StreamEvent.textDelta(chunk.event)
            if (text._tag === "Success") process.stdout.write(text.success)
          })
        : Console.log(`\n(${chunk.status} on runner ${chunk.runner}, ${chunk.usage.outputTokens} output tokens)`)
    )
  )
})

Effect.runPromise(program.pipe(Effect.provide(Cluster.layerClient({ connection, sharding })), Effect.scoped)).then(
  () => process.exit(0),
  (error) => {
    console.error(error)
    process.exit(1)
  }
)
