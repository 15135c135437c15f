/**
 * The child process of the agent crash test: a session on the file-system store asking in a loop
 * (each ask: a tool turn that runs SQL over a stored table and saves a result, then an answer),
 * until it is killed. Before each model call it prints the history the request sends, which the
 * store must hold at that moment: `request <JSON>`.
 *
 * Run as `node crashChild.mjs '{"directory":"...","id":"..."}'` (bundled by `crash.test.ts`).
 */
import { Effect } from "effect"
import { Agent, Mock, SessionStore } from "../../src/index.js"

interface Spec {
  readonly directory: string
  readonly id: string
}

const spec = JSON.parse(process.argv[2]!) as Spec

const write = (line: string) => new Promise<void>((resolve) => process.stdout.write(`${line}\n`, () => resolve()))

/** Each ask: SQL with a saved result (a new handle, stored as Parquet with the results), then text. */
const turn: Mock.Turn = ({ messages, turn }) =>
  Effect.promise(async () => {
    await write(`request ${JSON.stringify(messages)}`)
    return turn % 2 === 0
      ? Mock.toolCalls(
          [
            {
              name: "sql",
              input: {
                query: "SELECT region, sum(revenue) AS total FROM sales GROUP BY ALL ORDER BY 1",
                save_as: `r${turn}`
              }
            },
            { name: "list_variables" }
          ],
          `Looking at the sales, step ${turn}.`
        )
      : Mock.text(`The totals are in r${turn - 1}. ${"More words to stream. ".repeat(3)}`)
  })

const program = Effect.gen(function* () {
  const agent = yield* Agent.make({ cache: false })
  const session = yield* agent.session({ id: spec.id, create: "ifMissing" })
  if ((yield* session.data.get("sales")) === undefined) {
    yield* session.put("sales", [
      { region: "EU", revenue: 120.5 },
      { region: "US", revenue: 80 },
      { region: "EU", revenue: 9.5 }
    ])
  }
  yield* Effect.promise(() => write("ready"))
  for (let n = 0; ; n++) yield* session.ask(`Question ${n}: the totals?`)
}).pipe(
  Effect.scoped,
  Effect.provide(Mock.layer({ turns: [turn], chunkSize: 4, eventDelay: "1 millis" })),
  Effect.provide(SessionStore.layerFileSystem({ directory: spec.directory }))
)

Effect.runPromise(program).catch((error) => {
  process.stderr.write(`${String(error)}\n`)
  process.exit(1)
})
