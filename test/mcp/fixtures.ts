/** What the MCP tests share: a session holding a small `sales` table, made without a model. */
import { Effect } from "effect"
import { Agent, Mock } from "../../src/index.js"

const sales = [
  { region: "EU", revenue: 120 },
  { region: "US", revenue: 80 },
  { region: "EU", revenue: 30 }
]

/** A session with the `sales` handle put into it, made without a model. */
export const salesSession = Effect.gen(function* () {
  const agent = yield* Agent.make()
  const session = yield* agent.session()
  yield* session.put("sales", sales)
  return session
}).pipe(Effect.provide(Mock.layer({ turns: [] })))
