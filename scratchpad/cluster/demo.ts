/**
 * The whole example in one command: `npx tsx scratchpad/cluster/demo.ts`.
 *
 * 1. starts a throwaway PostgreSQL 15 (`initdb` in a temp directory; Debian's postgresql-15),
 * 2. starts two runners (`runner.ts` on ports 34431 and 34432) as separate processes,
 * 3. asks 20 sessions from this process (a client-only member) and shows which runner holds each,
 * 4. kills one runner with SIGKILL and asks its sessions again: they answer on the other runner,
 *    with their history (the scripted model counts the session's questions),
 * 5. stops everything.
 */
import * as ChildProcess from "node:child_process"
import { fileURLToPath } from "node:url"
import { Effect, Exit, Layer, Scope } from "effect"
import { Cluster } from "../../src/cluster/index.js"
import * as Postgres from "../../test/utils/postgres.js"
import { sharding } from "./config.js"

const scope = Scope.makeUnsafe()
const children: Array<ChildProcess.ChildProcess> = []

/** Starts `runner.ts <port>` and resolves once it logged that it is up. */
const startRunner = (server: Postgres.Server, port: number) =>
  new Promise<ChildProcess.ChildProcess>((resolve, reject) => {
    const child = ChildProcess.spawn(
      process.execPath,
      ["--import", "tsx", fileURLToPath(new URL("./runner.ts", import.meta.url)), String(port)],
      {
        env: { ...process.env, PGHOST: server.socketDirectory, PGPORT: String(server.port) },
        stdio: ["ignore", "pipe", "inherit"]
      }
    )
    children.push(child)
    child.stdout!.on("data", (chunk: Buffer) => {
      if (chunk.toString().includes("runner on")) resolve(child)
    })
    child.once("exit", (code) => reject(new Error(`runner ${port} exited (${code})`)))
  })

const main = async () => {
  console.log("starting PostgreSQL...")
  const server = await Effect.runPromise(Scope.provide(Postgres.start, scope))
  console.log("starting two runners...")
  const [first, second] = await Promise.all([startRunner(server, 34431), startRunner(server, 34432)])
  const client = Cluster.layerClient({ connection: Postgres.clientConfig(server), sharding })
  const context = await Effect.runPromise(Layer.buildWithScope(client, scope))
  await Effect.runPromise(
    Effect.provideContext(
      Effect.gen(function* () {
        const sessions = yield* Cluster.Sessions
        const keys = yield* Effect.forEach(
          Array.from({ length: 20 }, (_, i) => `s${i}`),
          (id) => sessions.create("demo", { id })
        )
        // until the second runner has taken its shards, the first holds them all
        let owners: ReadonlyArray<string> = []
        for (let round = 1; round <= 60; round++) {
          const replies = yield* Effect.forEach(keys, (key) => sessions.ask(key, `hello (round ${round})`), {
            concurrency: 10
          })
          owners = replies.map((reply) => reply.runner)
          if (new Set(owners).size === 2) break
          yield* Effect.sleep("500 millis")
        }
        for (const [i, key] of keys.entries()) console.log(`${key.id} is on ${owners[i]}`)
        const victim = "127.0.0.1:34432"
        const moved = keys.filter((_, i) => owners[i] === victim)
        console.log(`\nkilling the runner at ${victim} (SIGKILL); its ${moved.length} sessions ask again...`)
        const killedAt = Date.now()
        second.kill("SIGKILL")
        const replies = yield* Effect.forEach(moved, (key) => sessions.ask(key, "are you still there?"), {
          concurrency: "unbounded"
        })
        for (const [i, reply] of replies.entries()) console.log(`${moved[i]!.id}: ${reply.text} [on ${reply.runner}]`)
        console.log(`\nall of them answered ${((Date.now() - killedAt) / 1000).toFixed(1)} s after the kill`)
      }),
      context
    )
  )
  first.kill("SIGTERM")
}

main()
  .catch((error) => {
    console.error(error)
    process.exitCode = 1
  })
  .finally(async () => {
    for (const child of children) child.kill("SIGKILL")
    await Effect.runPromise(Scope.close(scope, Exit.void))
    process.exit()
  })
