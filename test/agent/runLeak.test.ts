/**
 * Leak check for one-shot runs: 1,000 `agent.run` calls, each running one `sql` query (which
 * opens the run's own DuckDB) and one `javascript` call (a sandbox engine on its worker thread).
 * Without forced GC:
 *
 * - each run's database is closed when the run ends, seen through a public signal: the query
 *   result the run saved (`save_as`) lives only in the database, so a closed store no longer
 *   lists it (`Data.Store.close`);
 * - the growth of resident memory stays within what the same asks cost on sessions closed by
 *   hand (`session.close` in a scope; 250 of them, scaled to 1,000); before one-shot runs closed their database it was about
 *   2.6 GB for 1,000 runs, freed only when the JS heap happened to be collected;
 * - the process's active handles (`process.getActiveResourcesInfo()`) return to where they were.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Schema } from "effect"
import { Agent, type Data, Mock, Tool } from "../../src/index.js"
import * as Faults from "../utils/faults.js"

const RUNS = 1_000
/** Sessions closed by hand, the baseline: fewer, their growth scaled to `RUNS` (a generous bound). */
const BY_HAND = 250
const CONCURRENCY = 4
const WARM_UP = 20

/** A tool that hands out the run's store, so the test can look at it after the run. */
const capturing = () => {
  const stores: Array<Data.Store> = []
  const tool = Tool.make("capture", {
    description: "Hands out the session's store.",
    parameters: Schema.Struct({}),
    handler: (_input, context) =>
      Effect.sync(() => {
        stores.push(context.data)
        return "captured"
      })
  })
  return { tool, stores }
}

/** Each run: the store captured, one sql query saved in the database, one javascript call; then an answer. */
const script = Mock.layer({
  turns: [
    Mock.reply(({ messages }) =>
      messages.some((message) => message.role === "assistant")
        ? Mock.text("done")
        : Mock.toolCalls([
            { name: "capture" },
            { name: "sql", input: { query: "SELECT sum(range) AS total FROM range(100000)", save_as: "saved" } },
            { name: "javascript", input: { code: "[1, 2, 3].reduce((a, b) => a + b, 0)" } }
          ])
    )
  ]
})

const rssMb = () => process.memoryUsage.rss() / (1024 * 1024)

/** Runs `ask` `count` times, `CONCURRENCY` at once; returns the RSS growth in MB. */
const growthOf = (count: number, ask: Effect.Effect<unknown, unknown>) =>
  Effect.gen(function* () {
    const before = rssMb()
    yield* Effect.forEach(Array.from({ length: count }), () => ask, { concurrency: CONCURRENCY, discard: true })
    return rssMb() - before
  })

/** Whether a store still lists the run's saved query result (its database was not closed). */
const stillOpen = (store: Data.Store) => Effect.map(store.list, (handles) => handles.some((h) => h.name === "saved"))

describe("one-shot runs leak nothing", () => {
  it.live(
    `${RUNS} agent.run calls with one sql and one javascript call each close every database and leave no handle`,
    () =>
      Effect.gen(function* () {
        const { tool, stores } = capturing()
        const agent = yield* Agent.make({ tools: [tool] })
        const byHand = Effect.scoped(
          Effect.gen(function* () {
            const session = yield* agent.session()
            yield* session.ask("Compute it.")
            yield* session.close
          })
        )
        const run = agent.run("Compute it.")

        yield* growthOf(WARM_UP, run)
        yield* growthOf(WARM_UP, byHand)
        const handles = yield* Faults.quiescent()
        const allBefore = Faults.activeResources()

        const handGrowth = ((yield* growthOf(BY_HAND, byHand)) * RUNS) / BY_HAND
        stores.length = 0
        const runGrowth = yield* growthOf(RUNS, run)

        assert.strictEqual(stores.length, RUNS)
        const open = (yield* Effect.forEach(stores, stillOpen)).filter(Boolean).length
        assert.strictEqual(open, 0, "runs whose database was still open after the run ended")

        // the baseline can shrink (the heap returned memory to the OS while it ran), and scaled to
        // RUNS a shrink made the bound negative: a baseline below zero counts as zero. The leak this
        // guards against was about 2.6 GB for 1,000 runs.
        const reference = Math.max(0, handGrowth)
        assert.isAtMost(
          runGrowth,
          Math.max(2 * reference, reference + 64),
          `RSS growth of ${RUNS} runs (${runGrowth.toFixed(1)} MB) against sessions closed by hand (${handGrowth.toFixed(1)} MB for as many)`
        )

        assert.deepStrictEqual(yield* Faults.settleTo(handles), handles, "sockets and timers")
        assert.deepStrictEqual(Faults.activeResources(), allBefore, "every active resource type")
      }).pipe(Effect.provide(script)),
    300_000
  )
})
