/**
 * One cluster runner: `npx tsx scratchpad/cluster/runner.ts <port>`. It joins the cluster on the
 * Postgres of `PGHOST`/`PGPORT` (see `config.ts`), listens on 127.0.0.1:<port> for the other
 * members, and serves the sessions of its shards until Ctrl-C (a graceful handoff) or a kill.
 *
 * The model: Claude with `ANTHROPIC_API_KEY` (`ANTHROPIC_MODEL`), else a scripted one that says
 * which runner answered and how many questions the session has had.
 */
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import { Effect, Layer } from "effect"
import { Cluster } from "../../src/cluster/index.js"
import { Anthropic, Message, Mock, type Provider } from "../../src/index.js"
import { connection, sharding } from "./config.js"

const port = Number(process.argv[2] ?? 34431)

/** The scripted model: an answer that names this runner and counts the session's questions. */
const scripted = Mock.layer({
  turns: [
    Mock.reply(({ messages }) => {
      const questions = messages.filter((m) => m.role === "user" && Message.textOf(m.content).length > 0)
      const last = Message.textOf(questions[questions.length - 1]?.content ?? [])
      return Mock.text(`runner ${port} answers question ${questions.length} of this session: "${last}"`)
    })
  ]
})

const model: Layer.Layer<Provider.Provider, unknown> =
  process.env.ANTHROPIC_API_KEY === undefined ? scripted : Anthropic.layerConfig()

const runner = Cluster.layer({
  connection,
  runner: { host: "127.0.0.1", port },
  sharding,
  agent: { system: "You are a data analyst. Answer briefly." }
}).pipe(Layer.provide(model))

NodeRuntime.runMain(
  Effect.gen(function* () {
    yield* Effect.log(`runner on 127.0.0.1:${port} (${process.env.ANTHROPIC_API_KEY ? "Claude" : "scripted model"})`)
    return yield* Effect.never
  }).pipe(Effect.provide(runner))
)
