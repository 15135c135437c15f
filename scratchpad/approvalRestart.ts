/**
 * A durable approval pause (`npx tsx scratchpad/approvalRestart.ts`), offline with the scripted
 * model: a first process asks in a session kept in a file-system session store; the model wants to
 * send an email, a tool that needs approval, and the ask pauses with an `approval_request`. The
 * process then dies on the spot (`process.exit`, no clean-up: a crash or a deploy).
 *
 * A second process (this one) loads the session by id: the call still waits. It prints the
 * pending call, approves it (a UI would ask a person), and `session.resume()` sends the email and
 * gets the model's answer.
 */
import * as ChildProcess from "node:child_process"
import * as FsP from "node:fs/promises"
import * as Os from "node:os"
import * as Path from "node:path"
import { fileURLToPath } from "node:url"
import { Effect, Schema, Stream } from "effect"
import { Agent, Approval, Mock, SessionStore, Tool } from "../src/index.js"

const self = fileURLToPath(import.meta.url)

const sendEmail = Tool.make("send_email", {
  description: "Sends an email.",
  parameters: Schema.Struct({ to: Schema.String, body: Schema.String }),
  handler: ({ to }) =>
    Effect.sync(() => {
      console.log(`  (process ${process.pid} sends the email to ${to})`)
      return `sent to ${to}`
    })
})
const tools = [Approval.require(sendEmail, { reason: "emails leave the company" })]

/** The first process: asks, and dies at the pause. */
const first = (directory: string) =>
  Effect.gen(function* () {
    const agent = yield* Agent.make({ tools })
    const session = yield* agent.session()
    console.log(`SESSION ${session.id}`)
    yield* session.askStream("Email the team that West leads this quarter.").pipe(
      Stream.runForEach((event) =>
        Effect.sync(() => {
          if (event.type !== "approval_request") return
          console.log(`[first process ${process.pid}] waits for approval of ${event.tool_name}; it dies now`)
          process.exit(0)
        })
      )
    )
  }).pipe(
    Effect.scoped,
    Effect.provide(
      Mock.layer({
        turns: [Mock.toolCall("send_email", { to: "team@example.com", body: "West leads this quarter." })]
      })
    ),
    Effect.provide(SessionStore.layerFileSystem({ directory }))
  )

/** The second process: the call still waits; approve it and resume. */
const second = (directory: string, id: string) =>
  Effect.gen(function* () {
    const agent = yield* Agent.make({ tools })
    const session = yield* agent.session({ id })
    for (const call of yield* session.approvals) {
      console.log(
        `[second process ${process.pid}] ${call.tool} waits since ${new Date(call.requestedAt).toISOString()}:`,
        JSON.stringify(call.input),
        `(${call.reason})`
      )
      yield* session.approve(call.toolUseId)
    }
    console.log("  ", yield* session.resume())
  }).pipe(
    Effect.scoped,
    Effect.provide(
      Mock.layer({
        turns: [Mock.reply(({ lastToolResults }) => Mock.text(`Done: ${String(lastToolResults[0]?.content)}.`))]
      })
    ),
    Effect.provide(SessionStore.layerFileSystem({ directory }))
  )

const main = async () => {
  const [mode, ...rest] = process.argv.slice(2)
  if (mode === "--first") return Effect.runPromise(first(rest[0]!))
  const directory = await FsP.mkdtemp(Path.join(Os.tmpdir(), "dh-approval-"))
  try {
    const output = ChildProcess.execFileSync(process.execPath, [...process.execArgv, self, "--first", directory], {
      encoding: "utf8"
    })
    process.stdout.write(output)
    const id = /^SESSION (\S+)$/m.exec(output)![1]!
    await Effect.runPromise(second(directory, id))
  } finally {
    await FsP.rm(directory, { recursive: true, force: true })
  }
}

await main()
