import * as FsP from "node:fs/promises"
import * as Os from "node:os"
import * as Path from "node:path"
import { afterAll, assert, beforeAll, describe, it } from "@effect/vitest"
import { Effect, Exit, Scope } from "effect"
import * as Message from "../../src/core/Message.js"
import * as Usage from "../../src/core/Usage.js"
import * as SessionStore from "../../src/store/SessionStore.js"
import * as Postgres from "../utils/postgres.js"
import { storeContract } from "./contract.js"

const missing = Postgres.missing()
if (missing !== undefined) console.warn(`skipping the Postgres store suite: ${missing}`)

describe.skipIf(missing !== undefined)("SessionStore on a real PostgreSQL 15", () => {
  const scope = Scope.makeUnsafe()
  let server: Postgres.Server | undefined
  let dataDirectory = ""
  beforeAll(async () => {
    server = await Effect.runPromise(Scope.provide(Postgres.start, scope))
    dataDirectory = await FsP.mkdtemp(Path.join(Os.tmpdir(), "dh-store-pg-data-"))
  }, 60_000)
  afterAll(async () => {
    await Effect.runPromise(Scope.close(scope, Exit.void))
    await FsP.rm(dataDirectory, { recursive: true, force: true })
  })

  storeContract({
    name: "layerPostgres",
    layer: () => SessionStore.layerPostgres({ connection: Postgres.clientConfig(server!), dataDirectory }),
    persistent: true,
    child: () => ({ kind: "postgres", socketDirectory: server!.socketDirectory, port: server!.port })
  })
})

describe.skipIf(missing !== undefined)("SessionStore on PostgreSQL when the database goes away", () => {
  it.live("an unreachable database is a retryable Unavailable that says to retry", () =>
    Effect.gen(function* () {
      const error = yield* Effect.flip(
        Effect.scoped(
          Effect.provide(
            Effect.service(SessionStore.SessionStore),
            SessionStore.layerPostgres({
              connection: {
                host: "127.0.0.1",
                port: 1,
                username: "postgres",
                database: "postgres",
                connectTimeout: "5 seconds"
              }
            })
          )
        )
      )
      assert.strictEqual(error.reason, "Unavailable", error.message)
      assert.isTrue(error.isRetryable)
      assert.include(error.message, "retry")
    })
  )

  it.live(
    "a server crash fails commits with Unavailable; after it is back, retries go on and nothing committed is lost",
    () =>
      Effect.gen(function* () {
        const server = yield* Postgres.start
        const key = { tenant: "t", id: "s" }
        const layer = SessionStore.layerPostgres({ connection: Postgres.clientConfig(server) })
        yield* Effect.gen(function* () {
          const store = yield* SessionStore.SessionStore
          yield* store.create("t", { id: "s" })
          yield* store.commit(key, SessionStore.userStep("before the crash"))
          yield* Postgres.kill(server)
          const error = yield* Effect.flip(store.commit(key, SessionStore.turnStep([], Usage.empty)))
          assert.strictEqual(error.reason, "Unavailable", error.message)
          assert.isTrue(error.isRetryable)
          yield* Postgres.restart(server)
          const retried = store
            .commit(key, SessionStore.userStep("after the crash"))
            .pipe(Effect.retry({ while: (error) => error.isRetryable, times: 5 }))
          assert.strictEqual(yield* retried, 2)
          const session = yield* store.load(key)
          assert.deepStrictEqual(session.history, [
            Message.user([Message.text("before the crash"), Message.text("after the crash")])
          ])
        }).pipe(Effect.provide(layer))
      }),
    60_000
  )
})
