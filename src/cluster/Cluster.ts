/**
 * Sessions on a cluster: every session is an Effect Cluster entity (`SessionEntity.Session`),
 * addressed by its tenant and id and owned by one runner at a time. The runner that owns a
 * session holds its state and its DuckDB; any runner (or a client-only process) accepts a call
 * and routes it to the owner. Runners share one PostgreSQL database: the cluster's shard locks
 * and messages, and the `SessionStore` the sessions are loaded from and committed to.
 *
 * - {@link layer}: a runner. It listens on `runner.port` for the other runners and serves the
 *   sessions of its shards with an agent over the `Provider` in context.
 * - {@link layerClient}: a process that calls sessions but serves none (an API front end).
 * - {@link layerLocal}: the same {@link Sessions} in one process without a database, over the
 *   `SessionStore` in context (development and tests).
 *
 * **Failover.** When a runner dies its shard locks expire (`sharding.shardLockExpiration`, 35 s
 * by default; see {@link fastFailover}) and its sessions move to the runners left. The next call
 * to a moved session loads it from the store with every committed step. A call in flight waits
 * for the new owner; an ask that was running is not run again (its steps so far are committed):
 * its caller gets the events that were stored, then `AskInterrupted`; unless a call it announced
 * waits for approval: then it goes on under its id once asked again or decided.
 *
 * **Approval.** `Sessions.approvals` lists the tool calls waiting for approval; `approve` and
 * `deny` reach the session's runner, where the running ask takes the decision or, with none
 * running, an ask that resumes the pause starts there (read it with `Sessions.events`).
 *
 * **Data.** A value put with `put` is kept in the store, so it follows its session to any runner.
 * Files and tables live in the store's data directory: on several machines, point
 * `store.dataDirectory` at storage every runner mounts.
 *
 * Every runner and client must use the same `sharding.shardsPerGroup` (a session's shard is
 * computed by the caller) and should use the same `shardLockExpiration` (callers use it to decide
 * which runners are alive).
 *
 * @example
 * ```ts
 * import { Effect, Layer } from "effect"
 * import { Anthropic } from "data-harness"
 * import { Cluster } from "data-harness/cluster"
 *
 * const runner = Cluster.layer({
 *   connection: { host: "db.internal", port: 5432, username: "app", database: "app" },
 *   runner: { host: "10.0.0.5", port: 34431 },
 *   agent: { system: "You are a data analyst." }
 * }).pipe(Layer.provide(Anthropic.layerConfig()))
 *
 * const program = Effect.gen(function*() {
 *   const sessions = yield* Cluster.Sessions
 *   const key = yield* sessions.create("acme")
 *   yield* sessions.put(key, "sales", [{ region: "EU", revenue: 120 }])
 *   const reply = yield* sessions.ask(key, "What is the total revenue?")
 *   console.log(reply.text, "answered on", reply.runner)
 * }).pipe(Effect.provide(runner))
 * ```
 * @since 0.2.0
 */
import * as PgClient from "@effect/sql-pg/PgClient"
import { Duration, Effect, Layer, Option } from "effect"
import { RunnerAddress, Sharding, ShardingConfig, TestRunner } from "effect/cluster"
import type { HttpServer, HttpServerError } from "effect/http"
import type { SocketServer } from "effect/socket"
import type { SqlError } from "effect/sql"
import type * as Agent from "../agent/Agent.js"
import type { InvalidOptions } from "../core/HarnessError.js"
import type { Provider } from "../provider/Provider.js"
import * as SessionStore from "../store/SessionStore.js"
import * as Entity from "./entity.js"
import * as Http from "./http.js"
import * as SessionHost from "./SessionHost.js"
import * as SessionsModule from "./Sessions.js"
import * as Transport from "./transport.js"

export type { AskOptions, AskReply, Service as SessionsService } from "./Sessions.js"
/**
 * The cluster's sessions from any member: `yield* Cluster.Sessions` (see the `Sessions` module).
 * @since 0.2.0
 */
export { Sessions } from "./Sessions.js"

// options

/**
 * The sharding settings every runner and client of a cluster shares (Effect Cluster's
 * `ShardingConfig`, without the runner's own address). Fields not given take Effect's defaults,
 * never environment variables.
 * @since 0.2.0
 */
export type ShardingOptions = Partial<
  Omit<ShardingConfig.ShardingConfig["Service"], "runnerAddress" | "runnerListenAddress">
>

/**
 * Settings that move a dead runner's sessions in about 5 seconds instead of about 35: shard locks
 * expire after 5 s and are refreshed every second. A runner whose event loop stalls for longer
 * than 5 s (a long GC pause, an overloaded machine) loses its shards while it is alive; use it
 * for tests and demos, and measure before using it in production.
 * @since 0.2.0
 */
export const fastFailover = {
  shardLockRefreshInterval: "1 second",
  shardLockExpiration: "5 seconds",
  refreshAssignmentsInterval: "500 millis",
  runnerHealthCheckInterval: "2 seconds",
  entityMessagePollInterval: "1 second"
} as const satisfies ShardingOptions

/**
 * Options of {@link layerClient}.
 * @since 0.2.0
 */
export interface ClientOptions {
  /** The PostgreSQL database of the cluster and its session store (one pool for both). */
  readonly connection: PgClient.PgPoolConfig
  readonly sharding?: ShardingOptions | undefined
  /** Options of the session store on that database (`SessionStore.layerSql`). */
  readonly store?: (SessionStore.Options & SessionStore.PostgresOptions) | undefined
  /** How long a call waits for its answer, and an ask for its next event (default 10 minutes). */
  readonly timeout?: Duration.Input | undefined
}

/**
 * Options of {@link layer}.
 * @since 0.2.0
 */
export interface Options extends ClientOptions {
  /**
   * The runner's address as the others reach it; it listens there, or on `listenHost` /
   * `listenPort` when given (behind NAT or in a container).
   */
  readonly runner: {
    readonly host: string
    readonly port: number
    readonly listenHost?: string | undefined
    readonly listenPort?: number | undefined
  }
  /** The agent every session runs (system prompt, tools, limits). */
  readonly agent?: Agent.Options<never> | undefined
  /** How long a session stays on its runner without calls before it is released (default 5 minutes). */
  readonly maxIdleTime?: Duration.Input | undefined
}

/**
 * Options of {@link layerLocal}.
 * @since 0.2.0
 */
export interface LocalOptions {
  readonly agent?: Agent.Options<never> | undefined
  readonly maxIdleTime?: Duration.Input | undefined
  readonly timeout?: Duration.Input | undefined
}

const defaultTimeout = Duration.minutes(10)

/** The full sharding configuration: every field explicit, so no environment variable fills one. */
const shardingConfig = (
  sharding: ShardingOptions | undefined,
  runner?: Options["runner"]
): ShardingConfig.ShardingConfig["Service"] => ({
  ...ShardingConfig.defaults,
  ...sharding,
  runnerAddress: runner === undefined ? Option.none() : Option.some(RunnerAddress.make(runner.host, runner.port)),
  runnerListenAddress:
    runner === undefined || (runner.listenHost === undefined && runner.listenPort === undefined)
      ? Option.none()
      : Option.some(RunnerAddress.make(runner.listenHost ?? runner.host, runner.listenPort ?? runner.port))
})

const sessionsLayer = (timeout: Duration.Input | undefined) =>
  Layer.effect(
    SessionsModule.Sessions,
    Effect.gen(function* () {
      return yield* SessionsModule.make({
        sharding: yield* Sharding.Sharding,
        store: yield* SessionStore.SessionStore,
        timeout: Duration.fromInputUnsafe(timeout ?? defaultTimeout)
      })
    })
  )

const serving = (options: {
  readonly agent?: Agent.Options<never> | undefined
  readonly maxIdleTime?: Duration.Input | undefined
}) =>
  Entity.layer({ maxIdleTime: options.maxIdleTime ?? Entity.defaultMaxIdleTime }).pipe(
    Layer.provide(SessionHost.layerStore(options.agent ?? {}))
  )

// layers

/**
 * A runner: serves the sessions of its shards (with an agent over the `Provider` in context) and
 * gives {@link Sessions} for every session of the cluster, plus the `SessionStore` and Effect
 * Cluster's `Sharding`. The cluster's tables (`cluster_*`) and the store's are created when
 * missing. Released with its scope: the runner hands its shards over and closes its sessions.
 * @since 0.2.0
 */
export const layer = (
  options: Options
): Layer.Layer<
  SessionsModule.Sessions | SessionStore.SessionStore | Sharding.Sharding,
  InvalidOptions | SocketServer.SocketServerError | SqlError.SqlError | SessionStore.StoreError,
  Provider
> => {
  const pg = PgClient.layer(options.connection)
  const store = SessionStore.layerSql(options.store).pipe(Layer.provide(pg))
  const sharding = Transport.layer({
    clientOnly: false,
    config: shardingConfig(options.sharding, options.runner)
  }).pipe(Layer.provide(pg))
  return serving(options).pipe(
    Layer.provideMerge(sessionsLayer(options.timeout)),
    Layer.provideMerge(sharding),
    Layer.provideMerge(store)
  )
}

/**
 * A process that calls the cluster's sessions and serves none: {@link Sessions}, the
 * `SessionStore` and a client-only `Sharding` on the cluster's database.
 * @since 0.2.0
 */
export const layerClient = (
  options: ClientOptions
): Layer.Layer<
  SessionsModule.Sessions | SessionStore.SessionStore | Sharding.Sharding,
  SocketServer.SocketServerError | SqlError.SqlError | SessionStore.StoreError
> => {
  const pg = PgClient.layer(options.connection)
  const store = SessionStore.layerSql(options.store).pipe(Layer.provide(pg))
  const sharding = Transport.layer({ clientOnly: true, config: shardingConfig(options.sharding) }).pipe(
    Layer.provide(pg)
  )
  return sessionsLayer(options.timeout).pipe(Layer.provideMerge(sharding), Layer.provideMerge(store))
}

/**
 * {@link Sessions} in one process, on Effect Cluster's in-memory runner, over the `SessionStore`
 * and `Provider` in context: the same entity, calls and failure semantics without a database or
 * sockets (calls still go through the entity's schemas). For development and tests.
 * @since 0.2.0
 */
export const layerLocal = (
  options: LocalOptions = {}
): Layer.Layer<SessionsModule.Sessions | Sharding.Sharding, InvalidOptions, Provider | SessionStore.SessionStore> =>
  serving(options).pipe(Layer.provideMerge(sessionsLayer(options.timeout)), Layer.provideMerge(TestRunner.layer))

/**
 * Options of {@link layerHttp}.
 * @since 0.2.0
 */
export type HttpOptions = Http.HttpOptions

/**
 * An HTTP front for this member of the cluster, over the {@link Sessions} in context (a runner's,
 * a client's or `layerLocal`'s): the session routes of `data-harness/server` (create, put a JSON
 * value, ask streamed as SSE, interrupt, history, tool approvals; and an ask's events by its id;
 * see the `ClusterHttpApi` module), with the same
 * bearer tokens, JSON errors and event framing. A request to any member reaches the session's
 * owner; a session of another tenant is a 404.
 *
 * @example
 * ```ts
 * import { Layer } from "effect"
 * import { Cluster } from "data-harness/cluster"
 *
 * const front = Cluster.layerHttp({ port: 8787, tokens: [{ tenant: "acme", token: process.env.ACME_TOKEN! }] })
 * const member = front.pipe(Layer.provideMerge(Cluster.layerClient({ connection })))
 * ```
 * @since 0.2.0
 */
export const layerHttp = (
  options: HttpOptions
): Layer.Layer<HttpServer.HttpServer, HttpServerError.ServeError, SessionsModule.Sessions> => Http.layer(options)
