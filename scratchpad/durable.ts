/**
 * Durable sessions (`npx tsx scratchpad/durable.ts`), offline with the scripted model: a first
 * process makes a session in a file-system session store, puts a table into it and asks; it
 * exits. A second process (this one, later) resumes the session by id: the conversation is
 * there, and SQL over the table reads its rows back from the Parquet file the store kept. Then it
 * forks the session and asks the fork something the original never hears about.
 *
 * `npx tsx scratchpad/durable.ts [directory]` keeps the store in `directory` (default: a temp
 * directory, removed at the end); run it twice with the same directory to see sessions pile up.
 */
import * as ChildProcess from "node:child_process"
import * as FsP from "node:fs/promises"
import * as Os from "node:os"
import * as Path from "node:path"
import { fileURLToPath } from "node:url"
import { Effect } from "effect"
import { Agent, Mock, SessionStore } from "../src/index.js"

const self = fileURLToPath(import.meta.url)

/** The sales table of `scratchpad/data/sales.csv`, as rows. */
const salesRows = async () => {
  const [header, ...lines] = (await FsP.readFile(Path.join(Path.dirname(self), "data/sales.csv"), "utf8"))
    .trim()
    .split("\n")
  const columns = header!.split(",")
  return lines.map((line) => {
    const cells = line.split(",")
    return Object.fromEntries(
      columns.map((column, i) => [column, Number.isNaN(Number(cells[i])) ? cells[i] : Number(cells[i])])
    )
  })
}

/** Quotes the last tool result: the scripted model's way of answering from the data. */
const quote = Mock.reply(({ lastToolResults }) => Mock.text(`From the data: ${String(lastToolResults[0]?.content)}`))

/** The first process: a new stored session with a table and one exchange; prints its id. */
const first = (directory: string) =>
  Effect.gen(function* () {
    const agent = yield* Agent.make()
    const session = yield* agent.session({ metadata: { title: "Sales review" } })
    yield* session.put("sales", yield* Effect.promise(salesRows), { description: "sales per day and region" })
    const answer = yield* session.ask("How many rows of sales are there?")
    console.log(`[first process ${process.pid}] session ${session.id}: ${answer}`)
    console.log(`SESSION ${session.id}`)
  }).pipe(
    Effect.scoped,
    Effect.provide(Mock.layer({ turns: [Mock.toolCall("sql", { query: "SELECT count(*) AS n FROM sales" }), quote] })),
    Effect.provide(SessionStore.layerFileSystem({ directory }))
  )

/** The second process: resume by id, ask over the table, fork and ask the fork. */
const second = (directory: string, id: string) =>
  Effect.gen(function* () {
    const agent = yield* Agent.make()
    const session = yield* agent.session({ id })
    const history = yield* session.history
    console.log(
      `[second process ${process.pid}] resumed ${id}: ${history.length} messages, handles:`,
      (yield* session.handles).map((h) => h.name)
    )
    console.log("  ", yield* session.ask("Which region sold the most units?"))
    const fork = yield* session.fork()
    console.log(`  fork ${fork.id}:`, yield* fork.ask("What if we drop the north region?"))
    console.log(
      `  the original still has ${(yield* session.history).length} messages; the fork has ${(yield* fork.history).length}`
    )
    for (const info of yield* agent.sessions()) {
      console.log(
        `  stored: ${info.id}${info.forkedFrom ? ` (fork of ${info.forkedFrom.id} at commit ${info.forkedFrom.seq})` : ""}`
      )
    }
  }).pipe(
    Effect.scoped,
    Effect.provide(
      Mock.layer({
        turns: [
          Mock.toolCall("sql", {
            query: "SELECT region, sum(units) AS units FROM sales GROUP BY ALL ORDER BY units DESC LIMIT 1"
          }),
          quote,
          Mock.toolCall("sql", {
            query: "SELECT sum(units * unit_price) AS revenue FROM sales WHERE region <> 'North'"
          }),
          quote
        ]
      })
    ),
    Effect.provide(SessionStore.layerFileSystem({ directory }))
  )

const main = async () => {
  const [mode, ...rest] = process.argv.slice(2)
  if (mode === "--first") return Effect.runPromise(first(rest[0]!))
  const directory = mode ?? (await FsP.mkdtemp(Path.join(Os.tmpdir(), "dh-durable-")))
  try {
    // the first process: a child that exits when it is done (its store directory lock goes with it)
    const output = ChildProcess.execFileSync(process.execPath, [...process.execArgv, self, "--first", directory], {
      encoding: "utf8"
    })
    process.stdout.write(output)
    const id = /^SESSION (\S+)$/m.exec(output)![1]!
    await Effect.runPromise(second(directory, id))
  } finally {
    if (mode === undefined) await FsP.rm(directory, { recursive: true, force: true })
  }
}

await main()
