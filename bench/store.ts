/**
 * The session store: what one committed step costs, and what resuming one of many stored sessions
 * costs, per layer.
 *
 * - `commit latency`: one session, `commits` sequential commits of an assistant turn (text and a
 *   tool call, about 1 KB of JSON) through `store.commit`, each durable before it returns; p50 and
 *   p99 per layer. Contenders: `layerFileSystem` (one `write` + `fdatasync` of a JSON line),
 *   `layerPostgres` (one transaction on a local PostgreSQL 15, fsync on), `layerMemory` (no I/O: the
 *   cost of validation and encoding), and a reference that is not a store: the same JSON as one
 *   `INSERT` per commit into a DuckDB file (DuckDB fsyncs its WAL per commit), the embedded
 *   alternative we already depend on.
 * - `appendEvents`: one ask's event log, `commits` appends of 1 or of 20 text deltas (event appends
 *   are ordered but not flushed one by one).
 * - `concurrent commits`: 16 sessions committing at once, commits per second.
 * - `resume`: `sessions` stored sessions (one tenant), each of 4 commits (two exchanges with tool
 *   calls, 8 messages); the time to `load` one picked at random, p50/p99 over 200 loads by a store opened
 *   after they were written (a restart: no cache); the time of the first `list` of the tenant
 *   after that start (the embedded store reads every session's first line, then keeps the list),
 *   and of a later page of 100.
 *
 * - `through a session ask`: `asks` asks in one stored session with the scripted model (a tool
 *   call to `list_variables`, then an answer: four commits per ask: the prompt, the turn, the tool
 *   result, the answer), each ask's time p50/p99 with no store and per layer; and the time of
 *   each commit the session makes (the store wrapped to time its `commit`), p50/p99 per layer.
 *
 * Postgres runs only where `test/utils/postgres.ts` can start a server (Debian's postgresql-15).
 * Run alone: `npx tsx bench/store.ts [commits=1000] [sessions=10000] [asks=500]`.
 * @since 0.2.0
 */
import * as FsP from "node:fs/promises"
import * as Os from "node:os"
import * as Path from "node:path"
import { pathToFileURL } from "node:url"
import { DuckDBInstance } from "@duckdb/node-api"
import { Effect, Exit, Layer, Scope } from "effect"
import * as Message from "../src/core/Message.js"
import * as Usage from "../src/core/Usage.js"
import { Agent, Mock } from "../src/index.js"
import * as SessionStore from "../src/store/SessionStore.js"
import * as Postgres from "../test/utils/postgres.js"
import { formatTable, percentile, type Row } from "./util/stats.js"

type StoreLayer = Layer.Layer<SessionStore.SessionStore, SessionStore.StoreError>

const usage = Usage.make({ inputTokens: 1200, outputTokens: 180, cacheReadTokens: 1000 })

/** An assistant turn of about 1 KB: some text and a tool call. */
const turn = (i: number): SessionStore.Step =>
  SessionStore.turnStep(
    [
      Message.text(
        `Step ${i}: I will group the sales by region and sum the revenue, then compare the quarters. `.repeat(4)
      ),
      {
        type: "tool_use",
        id: `toolu_${i}`,
        name: "sql",
        input: { sql: "SELECT region, quarter, sum(revenue) AS revenue FROM sales GROUP BY ALL ORDER BY 1, 2" }
      }
    ],
    usage
  )
const result = (i: number) => SessionStore.toolResultsStep([Message.toolResult(`toolu_${i}`, '{"rowCount":8}')])

const withStore = <A>(
  layer: StoreLayer,
  f: (store: SessionStore.Service) => Effect.Effect<A, SessionStore.StoreError>
) =>
  Effect.runPromise(
    Effect.scoped(
      Effect.gen(function* () {
        return yield* f(yield* SessionStore.SessionStore)
      }).pipe(Effect.provide(layer))
    )
  )

/** Latencies (ms) of `commits` sequential commits to one new session (turns and their results). */
const commitLatencies = (layer: StoreLayer, commits: number) =>
  withStore(layer, (store) =>
    Effect.gen(function* () {
      const tenant = `bench-${crypto.randomUUID()}`
      const { id } = yield* store.create(tenant)
      const key = { tenant, id }
      yield* store.commit(key, SessionStore.userStep("Compare the quarters by region."))
      const latencies = new Float64Array(commits)
      for (let i = 0; i < commits; i++) {
        const step = i % 2 === 0 ? turn(i) : result(i - 1)
        const t0 = performance.now()
        yield* store.commit(key, step)
        latencies[i] = performance.now() - t0
      }
      return latencies
    })
  )

/** Latencies (ms) of `calls` appends of `batch` text deltas each to one ask's event log. */
const appendLatencies = (layer: StoreLayer, calls: number, batch: number) =>
  withStore(layer, (store) =>
    Effect.gen(function* () {
      const tenant = `bench-${crypto.randomUUID()}`
      const { id } = yield* store.create(tenant)
      const key = { tenant, id }
      const events = Array.from({ length: batch }, (_, i) => ({
        type: "content_block_delta",
        index: 0,
        delta: { type: "text_delta", text: `token ${i} ` }
      }))
      const latencies = new Float64Array(calls)
      for (let i = 0; i < calls; i++) {
        const t0 = performance.now()
        yield* store.appendEvents(key, "ask-1", events)
        latencies[i] = performance.now() - t0
      }
      return latencies
    })
  )

/** Commits per second with `sessions` sessions committing at once, `each` commits each. */
const concurrentRate = (layer: StoreLayer, sessions: number, each: number) =>
  withStore(layer, (store) =>
    Effect.gen(function* () {
      const tenant = `bench-${crypto.randomUUID()}`
      const keys = yield* Effect.forEach(Array.from({ length: sessions }), () =>
        Effect.map(store.create(tenant), ({ id }) => ({ tenant, id }))
      )
      for (const key of keys) yield* store.commit(key, SessionStore.userStep("q"))
      const t0 = performance.now()
      yield* Effect.forEach(
        keys,
        (key) =>
          Effect.gen(function* () {
            for (let i = 0; i < each; i++) yield* store.commit(key, i % 2 === 0 ? turn(i) : result(i - 1))
          }),
        { concurrency: "unbounded" }
      )
      return ((sessions * each) / (performance.now() - t0)) * 1000
    })
  )

/** The reference: the same JSON lines as one INSERT per commit into a DuckDB file. */
const duckdbLatencies = async (directory: string, commits: number): Promise<Float64Array> => {
  const instance = await DuckDBInstance.create(Path.join(directory, "reference.duckdb"))
  const connection = await instance.connect()
  await connection.run("CREATE TABLE commits (session VARCHAR, seq INTEGER, committed_at BIGINT, steps VARCHAR)")
  const latencies = new Float64Array(commits)
  try {
    for (let i = 0; i < commits; i++) {
      const steps = JSON.stringify([i % 2 === 0 ? turn(i) : result(i - 1)])
      const t0 = performance.now()
      await connection.run("INSERT INTO commits VALUES ('s', $1, $2, $3)", [i + 1, Date.now(), steps])
      latencies[i] = performance.now() - t0
    }
  } finally {
    connection.closeSync()
    instance.closeSync()
  }
  return latencies
}

/** Stores `sessions` sessions of 4 commits each, 16 at a time; returns the tenant and their ids. */
const fill = (layer: StoreLayer, sessions: number) =>
  withStore(layer, (store) =>
    Effect.gen(function* () {
      const tenant = "bench-resume"
      const ids = yield* Effect.forEach(
        Array.from({ length: sessions }, (_, i) => `session-${String(i).padStart(6, "0")}`),
        (id) =>
          Effect.gen(function* () {
            const key = { tenant, id }
            yield* store.create(tenant, { id, metadata: { title: `Session ${id}` } })
            for (let x = 0; x < 2; x++) {
              yield* store.commit(key, [SessionStore.userStep(`Question ${x}`), turn(x)])
              yield* store.commit(key, [result(x), SessionStore.turnStep([Message.text("Answer.")], usage)])
            }
            return id
          }),
        { concurrency: 16 }
      )
      return { tenant, ids }
    })
  )

const resume = (layer: StoreLayer, tenant: string, ids: ReadonlyArray<string>) =>
  withStore(layer, (store) =>
    Effect.gen(function* () {
      const latencies = new Float64Array(200)
      for (let i = 0; i < latencies.length; i++) {
        const id = ids[Math.floor(Math.random() * ids.length)]!
        const t0 = performance.now()
        const session = yield* store.load({ tenant, id })
        latencies[i] = performance.now() - t0
        if (session.seq !== 4) return yield* Effect.die(new Error(`session ${id} has ${session.seq} commits, not 4`))
      }
      const t0 = performance.now()
      const listed = yield* store.list(tenant)
      const list = performance.now() - t0
      if (listed.length !== ids.length) return yield* Effect.die(new Error(`listed ${listed.length}`))
      const t1 = performance.now()
      yield* store.list(tenant, { after: ids[ids.length >> 1], limit: 100 })
      return { latencies, list, again: performance.now() - t1 }
    })
  )

/** The store with its `commit` timed: each latency (ms) is pushed to `into`. */
const timedStore = (layer: StoreLayer, into: Array<number>): StoreLayer =>
  Layer.effect(
    SessionStore.SessionStore,
    Effect.map(SessionStore.SessionStore, (store) => ({
      ...store,
      commit: (key, steps, options) =>
        Effect.suspend(() => {
          const t0 = performance.now()
          return Effect.tap(store.commit(key, steps, options), () =>
            Effect.sync(() => void into.push(performance.now() - t0))
          )
        })
    }))
  ).pipe(Layer.provide(layer))

/**
 * `asks` asks in one session (a tool turn, then an answer), on `layer` or in memory: each ask's
 * latency (ms), and each commit's when a store is timed.
 */
const askLatencies = (layer: StoreLayer | undefined, asks: number) => {
  const commits: Array<number> = []
  const mock = Mock.layer({ turns: [Mock.toolCall("list_variables"), Mock.text("There is nothing yet.")] })
  const program = Effect.scoped(
    Effect.gen(function* () {
      const agent = yield* Agent.make({ cache: false, store: layer === undefined ? false : undefined })
      const session = yield* agent.session()
      // warm up (the first ask loads modules), then measure
      yield* session.ask("What is there?")
      commits.length = 0
      const latencies = new Float64Array(asks)
      for (let i = 0; i < asks; i++) {
        const t0 = performance.now()
        yield* session.ask("What is there?")
        latencies[i] = performance.now() - t0
      }
      return latencies
    })
  ).pipe(
    Effect.provide(mock),
    Effect.provide(layer === undefined ? SessionStore.layerMemory() : timedStore(layer, commits))
  )
  return Effect.runPromise(program).then((latencies) => ({ latencies, commits: Float64Array.from(commits) }))
}

const latencyRows = (benchmark: string, contender: string, latencies: Float64Array): Array<Row> => [
  { benchmark, contender: `${contender} p50`, value: percentile(latencies, 50), unit: "ms" },
  { benchmark, contender: `${contender} p99`, value: percentile(latencies, 99), unit: "ms" }
]

/**
 * Every store figure; Postgres rows only where a server can be started.
 * @since 0.2.0
 */
export const benchStore = async (options: {
  readonly commits: number
  readonly sessions: number
  readonly asks?: number | undefined
}) => {
  const rows: Array<Row> = []
  const directory = await FsP.mkdtemp(Path.join(Os.tmpdir(), "dh-bench-store-"))
  const scope = Effect.runSync(Scope.make())
  try {
    const missing = Postgres.missing()
    const server = missing === undefined ? await Effect.runPromise(Scope.provide(Postgres.start, scope)) : undefined
    const layers: Array<readonly [string, StoreLayer]> = [
      ["layerFileSystem", SessionStore.layerFileSystem({ directory: Path.join(directory, "fs") })],
      ...(server === undefined
        ? []
        : [["layerPostgres", SessionStore.layerPostgres({ connection: Postgres.clientConfig(server) })] as const]),
      ["layerMemory", SessionStore.layerMemory()]
    ]
    const commitBench = `store: commit of one turn (1 KB), ${options.commits} sequential`
    for (const [name, layer] of layers)
      rows.push(...latencyRows(commitBench, name, await commitLatencies(layer, options.commits)))
    rows.push(
      ...latencyRows(commitBench, "reference: DuckDB file INSERT", await duckdbLatencies(directory, options.commits))
    )
    const asks = options.asks ?? 500
    const askBench = `store: one ask through a session (2 turns, 4 commits), ${asks} asks`
    const commitInAsk = "store: each commit of a session ask (prompt, turn, tool result, answer)"
    rows.push(...latencyRows(askBench, "no store", (await askLatencies(undefined, asks)).latencies))
    for (const [name, layer] of layers) {
      if (name === "layerMemory") continue
      const { latencies, commits } = await askLatencies(layer, asks)
      rows.push(...latencyRows(askBench, name, latencies), ...latencyRows(commitInAsk, name, commits))
    }
    for (const batch of [1, 20]) {
      const benchmark = `store: appendEvents of ${batch} text delta${batch === 1 ? "" : "s"} (not flushed per call)`
      for (const [name, layer] of layers) {
        rows.push(...latencyRows(benchmark, name, await appendLatencies(layer, options.commits, batch)))
      }
    }
    for (const [name, layer] of layers) {
      rows.push({
        benchmark: "store: 16 sessions committing at once",
        contender: name,
        value: await concurrentRate(layer, 16, Math.max(10, Math.floor(options.commits / 16))),
        unit: "commits/s"
      })
    }
    for (const [name, layer] of layers) {
      if (name === "layerMemory") continue
      const t0 = performance.now()
      const { tenant, ids } = await fill(layer, options.sessions)
      const filled = (performance.now() - t0) / 1000
      const { latencies, list, again } = await resume(layer, tenant, ids)
      const benchmark = `store: ${options.sessions} stored sessions (4 commits each)`
      rows.push(
        ...latencyRows(benchmark, `${name} resume one`, latencies),
        { benchmark, contender: `${name} list all (first list after a start)`, value: list, unit: "ms" },
        { benchmark, contender: `${name} list a page of 100 (a later list)`, value: again, unit: "ms" },
        { benchmark, contender: `${name} writing them`, value: filled, unit: "s" }
      )
    }
    if (missing !== undefined) process.stderr.write(`\nbench store: no Postgres rows: ${missing}\n`)
  } finally {
    await Effect.runPromise(Scope.close(scope, Exit.void))
    await FsP.rm(directory, { recursive: true, force: true })
  }
  return rows
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  console.log(
    formatTable(
      await benchStore({
        commits: Number(process.argv[2] ?? 1000),
        sessions: Number(process.argv[3] ?? 10_000),
        asks: Number(process.argv[4] ?? 500)
      })
    )
  )
}
