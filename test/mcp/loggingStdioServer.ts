/**
 * A stdio MCP server for the tests: one tool, `shout`, that logs with Effect's logger before it
 * answers (the log must go to stderr, not into the protocol on stdout).
 */
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import { Effect, Layer, Schema } from "effect"
import { Data, Tool } from "../../src/index.js"
import * as Mcp from "../../src/mcp/Mcp.js"

const shout = Tool.make("shout", {
  description: "Logs a warning, then answers with the text in capitals.",
  parameters: Schema.Struct({ text: Schema.String }),
  handler: ({ text }) => Effect.as(Effect.logWarning(`shouting ${text}`), text.toUpperCase())
})

Effect.gen(function* () {
  const data = yield* Data.makeStore
  return yield* Layer.launch(Mcp.layerStdio({ session: { data }, tools: [shout] }))
}).pipe(Effect.scoped, NodeRuntime.runMain)
