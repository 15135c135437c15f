/**
 * Hooks and approval (`npx tsx scratchpad/hooks.ts`), offline: a scripted model works over a
 * sales table with the real `sql` tool, under three hooks:
 *
 * - `Guardrails.sqlCostGuard` runs DuckDB's EXPLAIN first and denies a cross join over 1M rows
 *   (the model reads why and writes a cheaper query);
 * - `Guardrails.redact` masks the email addresses in tool results;
 * - `send_email` is marked with `Approval.require`: the ask pauses with an `approval_request`,
 *   and this program approves it after printing the pending call (a UI would ask a person).
 */
import { Effect, Schema, Stream } from "effect"
import { Agent, Approval, Guardrails, type Hooks, Mock, Tool } from "../src/index.js"

const sendEmail = Tool.make("send_email", {
  description: "Sends an email.",
  parameters: Schema.Struct({ to: Schema.String, body: Schema.String }),
  handler: ({ to }) => Effect.succeed(`sent to ${to}`)
})

const model = Mock.layer({
  turns: [
    Mock.toolCall("sql", { query: "SELECT * FROM sales a CROSS JOIN sales b" }),
    Mock.toolCall("sql", {
      query: "SELECT region, owner, sum(revenue) AS revenue FROM sales GROUP BY ALL ORDER BY 3 DESC"
    }),
    Mock.toolCall("send_email", { to: "team@example.com", body: "West leads this quarter." }),
    Mock.text("West leads; I emailed the team.")
  ]
})

/** A hook of our own: log each tool call and how long it took. */
const logCalls: Hooks.Hooks = {
  afterTool: (call) =>
    Effect.sync(() =>
      console.log(`  [${call.name} ${Math.round(call.durationMs)} ms${call.result.isError ? ", error" : ""}]`)
    )
}

const program = Effect.gen(function* () {
  const agent = yield* Agent.make({
    tools: [Approval.require(sendEmail, { reason: "emails leave the company" })],
    hooks: [Guardrails.sqlCostGuard({ maxRows: 1_000_000 }), Guardrails.redact(), logCalls]
  })
  const session = yield* agent.session()
  yield* session.put(
    "sales",
    Array.from({ length: 3_000 }, (_, i) => ({
      region: ["West", "East", "North"][i % 3],
      owner: ["ana@example.com", "bo@example.com", "cy@example.com"][i % 3],
      revenue: 100 + (i % 17)
    }))
  )
  yield* session.askStream("Which region leads? Tell the team.").pipe(
    Stream.runForEach((event) =>
      Effect.gen(function* () {
        if (event.type === "tool_result") {
          console.log(`tool_result ${event.tool_name}: ${String(event.content).slice(0, 160)}`)
        } else if (event.type === "approval_request") {
          const [pending] = yield* session.approvals
          console.log(`approval_request: ${JSON.stringify(pending)}`)
          yield* session.approve(event.tool_use_id)
        } else if (event.type === "content_block_delta" && event.delta.type === "text_delta") {
          process.stdout.write((event.delta as { text: string }).text)
        }
      })
    )
  )
  console.log()
})

Effect.runPromise(program.pipe(Effect.scoped, Effect.provide(model))).catch((error) => {
  console.error(error)
  process.exitCode = 1
})
