import * as FsP from "node:fs/promises"
import * as Os from "node:os"
import * as Path from "node:path"
import { afterAll, beforeAll, describe } from "@effect/vitest"
import { Effect, Exit, Scope } from "effect"
import { SessionStore } from "../../src/index.js"
import * as Postgres from "../utils/postgres.js"
import { durableSessions } from "./durable.js"
import { approvalSteps, durableApprovals } from "./durableApproval.js"

const missing = Postgres.missing()
if (missing !== undefined) console.warn(`skipping the sessions-on-Postgres suite: ${missing}`)

describe.skipIf(missing !== undefined)("on a real PostgreSQL 15", () => {
  const scope = Scope.makeUnsafe()
  let server: Postgres.Server | undefined
  let dataDirectory = ""
  beforeAll(async () => {
    server = await Effect.runPromise(Scope.provide(Postgres.start, scope))
    dataDirectory = await FsP.mkdtemp(Path.join(Os.tmpdir(), "dh-durable-pg-data-"))
  }, 60_000)
  afterAll(async () => {
    await Effect.runPromise(Scope.close(scope, Exit.void))
    await FsP.rm(dataDirectory, { recursive: true, force: true })
  })

  const subject = {
    name: "SessionStore.layerPostgres",
    layer: () => SessionStore.layerPostgres({ connection: Postgres.clientConfig(server!), dataDirectory })
  }
  durableSessions(subject)
  durableApprovals(subject)
  approvalSteps(subject)
})
