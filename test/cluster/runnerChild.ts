/**
 * A cluster runner process for the two-runner suite and the bench: `Cluster.layer` on the test's
 * PostgreSQL (the JSON spec in argv[2]), serving sessions with the scripted model of `brain.ts`
 * named after the runner (its `send_email` tool waits for approval), and (with `http`) the cluster's HTTP front on `http.port`. It prints `up` once its layer is built and `shards <n>` each time the
 * number of shards it holds changes, and runs until it is killed (SIGTERM: a graceful handoff).
 * The suite bundles it with esbuild (packages left external), so it starts without tsx.
 */
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import { Effect, Layer } from "effect"
import { ShardId, Sharding } from "effect/cluster"
import { Cluster } from "../../src/cluster/index.js"
import { Approval } from "../../src/index.js"
import { sendEmail } from "../fixtures/email.js"
import * as Brain from "./brain.js"

/** What the runner is told. */
export interface Spec {
  /** The runner's name, in its answers. */
  readonly name: string
  readonly port: number
  readonly postgres: { readonly socketDirectory: string; readonly port: number }
  readonly sharding: Cluster.ShardingOptions
  readonly maxIdleTime?: string | undefined
  /** Serves `Cluster.layerHttp` on this port with these tokens. */
  readonly http?:
    | { readonly port: number; readonly tokens: ReadonlyArray<{ tenant: string; token: string }> }
    | undefined
}

const spec = JSON.parse(process.argv[2]!) as Spec

const runner = Cluster.layer({
  connection: {
    host: spec.postgres.socketDirectory,
    port: spec.postgres.port,
    username: "postgres",
    database: "postgres"
  },
  runner: { host: "127.0.0.1", port: spec.port },
  sharding: spec.sharding,
  // `email <name>` prompts call it, and wait for approval
  agent: { tools: [Approval.require(sendEmail, { reason: "emails leave the company" })] },
  ...(spec.maxIdleTime === undefined ? {} : { maxIdleTime: spec.maxIdleTime as `${number} seconds` })
}).pipe(Layer.provide(Brain.layer(spec.name)))

const member =
  spec.http === undefined
    ? runner
    : Cluster.layerHttp({ port: spec.http.port, tokens: spec.http.tokens }).pipe(Layer.provideMerge(runner))

/** Prints the number of shards this runner holds whenever it changes. */
const reportShards = Effect.gen(function* () {
  const sharding = yield* Sharding.Sharding
  const shards = Array.from({ length: spec.sharding.shardsPerGroup ?? 300 }, (_, i) => ShardId.make("default", i + 1))
  let last = -1
  for (;;) {
    const held = shards.filter((shard) => sharding.hasShardId(shard)).length
    if (held !== last) process.stdout.write(`shards ${(last = held)}\n`)
    yield* Effect.sleep("100 millis")
  }
})

const program = Effect.gen(function* () {
  process.stdout.write("up\n")
  return yield* reportShards
})

NodeRuntime.runMain(program.pipe(Effect.provide(member)))
