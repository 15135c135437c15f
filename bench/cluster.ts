/**
 * Sessions on a cluster (`data-harness/cluster`): two runner processes on one local PostgreSQL 15,
 * this process a client-only member (`Cluster.layerClient`), the scripted model (no network, no
 * model time: what is measured is the cluster, the store and the agent loop).
 *
 * - `asks/s`: `sessions` sessions spread over the two runners; their first ask (the session's
 *   entity starts: the session is loaded from the store) and then `rounds` more asks each, at
 *   `concurrency` asks in flight; asks per second and the latency of one ask, p50/p99. An ask
 *   here is: route to the owner, start the ask's event log, one model turn of 6 events (each
 *   written to the log before it is sent), the commit, the end of the log.
 * - `one at a time`: the latency of an ask with nothing else running, p50.
 * - `failover`: a runner killed with SIGKILL; the time from the kill until the first, and until
 *   the last, of its sessions answered on the other runner (every one asked at once right after
 *   the kill), with `Cluster.fastFailover` (shard locks expire after 5 s). Repeated `failovers`
 *   times, each with a fresh runner that joined and took its shards.
 *
 * The runners run the sources bundled by esbuild (`test/cluster/runners.ts`), not `dist/`.
 * Run alone: `npx tsx bench/cluster.ts [sessions=200] [rounds=3] [failovers=2]`.
 * @since 0.2.0
 */
import { pathToFileURL } from "node:url"
import { Effect, Exit, Layer, Scope } from "effect"
import { Cluster } from "../src/cluster/index.js"
import type { SessionStore } from "../src/index.js"
import { type Runner, spawnRunner, specs } from "../test/cluster/runners.js"
import * as Postgres from "../test/utils/postgres.js"
import { formatTable, percentile, type Row } from "./util/stats.js"

const sharding: Cluster.ShardingOptions = { ...Cluster.fastFailover, shardsPerGroup: 30 }

/** Waits until the runners hold every shard between them, each some. */
const settled = async (runners: ReadonlyArray<Runner>, total: number): Promise<void> => {
  for (;;) {
    const held = runners.map((runner) => runner.shards())
    if (held.every((n) => n > 0) && held.reduce((a, b) => a + b, 0) === total) return
    await Promise.race(runners.map((runner, i) => runner.whenShards((n) => n !== held[i])))
  }
}

/** Asks every session once at `concurrency`; the wall time (s) and each ask's latency (ms). */
const askAll = (
  sessions: Cluster.Sessions["Service"],
  keys: ReadonlyArray<SessionStore.SessionKey>,
  prompt: string,
  concurrency: number
) =>
  Effect.gen(function* () {
    const latencies: Array<number> = []
    const runners: Array<string> = []
    const t0 = performance.now()
    yield* Effect.forEach(
      keys,
      (key) =>
        Effect.suspend(() => {
          const start = performance.now()
          return Effect.map(sessions.ask(key, prompt), (reply) => {
            latencies.push(performance.now() - start)
            runners.push(reply.runner)
          })
        }),
      { concurrency, discard: true }
    )
    return { seconds: (performance.now() - t0) / 1000, latencies, runners }
  })

/**
 * Runs the cluster benchmark.
 * @since 0.2.0
 */
export const benchCluster = async (options: {
  readonly sessions: number
  readonly rounds: number
  readonly failovers: number
  readonly concurrency?: number | undefined
}): Promise<ReadonlyArray<Row>> => {
  const missing = Postgres.missing()
  if (missing !== undefined) {
    process.stderr.write(`\nbench cluster: skipped: ${missing}\n`)
    return []
  }
  const concurrency = options.concurrency ?? 20
  const rows: Array<Row> = []
  const scope = Scope.makeUnsafe()
  const runners: Array<Runner> = []
  try {
    const server = await Effect.runPromise(Scope.provide(Postgres.start, scope))
    const [alpha, beta] = await specs(server, sharding, ["alpha", "beta"])
    runners.push(...(await Promise.all([spawnRunner(alpha!), spawnRunner(beta!)])))
    await settled(runners, sharding.shardsPerGroup!)
    const layer = Cluster.layerClient({ connection: Postgres.clientConfig(server), sharding, timeout: "120 seconds" })
    const context = await Effect.runPromise(Layer.buildWithScope(layer, scope))
    const run = <A, E>(effect: Effect.Effect<A, E, Cluster.Sessions | SessionStore.SessionStore>) =>
      Effect.runPromise(Effect.provideContext(effect, context))
    const sessions = await run(Effect.service(Cluster.Sessions))
    const keys = await run(
      Effect.forEach(
        Array.from({ length: options.sessions }, (_, i) => `s${i}`),
        (id) => sessions.create("bench", { id }),
        { concurrency }
      )
    )
    const benchmark = `cluster: ${options.sessions} sessions on 2 runners, scripted model, ${concurrency} asks in flight`
    const first = await run(askAll(sessions, keys, "first", concurrency))
    rows.push(
      { benchmark, contender: "first ask (session loaded)", value: options.sessions / first.seconds, unit: "asks/s" },
      { benchmark, contender: "first ask p50", value: percentile(first.latencies, 50), unit: "ms" },
      { benchmark, contender: "first ask p99", value: percentile(first.latencies, 99), unit: "ms" }
    )
    const warm: Array<number> = []
    let warmSeconds = 0
    for (let round = 0; round < options.rounds; round++) {
      const { seconds, latencies } = await run(askAll(sessions, keys, `round ${round}`, concurrency))
      warm.push(...latencies)
      warmSeconds += seconds
    }
    rows.push(
      { benchmark, contender: "later asks", value: warm.length / warmSeconds, unit: "asks/s" },
      { benchmark, contender: "later ask p50", value: percentile(warm, 50), unit: "ms" },
      { benchmark, contender: "later ask p99", value: percentile(warm, 99), unit: "ms" }
    )
    const alone = await run(askAll(sessions, keys.slice(0, 50), "alone", 1))
    rows.push({
      benchmark,
      contender: "one ask at a time p50",
      value: percentile(alone.latencies, 50),
      unit: "ms"
    })

    const firsts: Array<number> = []
    const lasts: Array<number> = []
    for (let i = 0; i < options.failovers; i++) {
      const owners = await run(askAll(sessions, keys, `before failover ${i}`, concurrency))
      const victim = runners[runners.length - 1]!
      const moved = keys.filter((_, k) => owners.runners[k] === victim.address)
      const killedAt = performance.now()
      await victim.kill("SIGKILL")
      runners.pop()
      const times = await run(
        Effect.forEach(moved, (key) => Effect.map(sessions.ask(key, "after"), () => performance.now() - killedAt), {
          concurrency: "unbounded"
        })
      )
      firsts.push(Math.min(...times) / 1000)
      lasts.push(Math.max(...times) / 1000)
      process.stderr.write(
        ` [failover ${i + 1}: ${moved.length} sessions, first ${(Math.min(...times) / 1000).toFixed(1)} s, last ${(Math.max(...times) / 1000).toFixed(1)} s]`
      )
      if (i + 1 < options.failovers) {
        const [fresh] = await specs(server, sharding, [`gamma${i}`])
        runners.push(await spawnRunner(fresh!))
        await settled(runners, sharding.shardsPerGroup!)
      }
    }
    const failover = `cluster: runner killed (SIGKILL), its sessions asked again at once (shard lock expiry 5 s)`
    if (firsts.length > 0) {
      rows.push(
        {
          benchmark: failover,
          contender: "first session answered elsewhere (median)",
          value: percentile(firsts, 50),
          unit: "s",
          detail: firsts
        },
        {
          benchmark: failover,
          contender: "last session answered elsewhere (median)",
          value: percentile(lasts, 50),
          unit: "s",
          detail: lasts
        }
      )
    }
  } finally {
    await Promise.all(runners.map((runner) => runner.kill("SIGKILL")))
    await Effect.runPromise(Scope.close(scope, Exit.void))
  }
  return rows
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  console.log(
    formatTable(
      await benchCluster({
        sessions: Number(process.argv[2] ?? 200),
        rounds: Number(process.argv[3] ?? 3),
        failovers: Number(process.argv[4] ?? 2)
      })
    )
  )
  process.exit(0)
}
