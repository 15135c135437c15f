/**
 * Durable sessions: a store that keeps each session's history, usage, options, data handles (with
 * their snapshots and lineage) and data files, plus the event log of each ask, so a session
 * survives a restart and a client can resume an ask's event stream.
 *
 * Every change is a **commit** of one or more {@link Step}s, written in one transaction: a crash
 * loses at most the commit in flight, never part of one. A loaded history is always valid for the
 * API (roles alternate, it starts with a user message, every `tool_use` is answered before the next
 * assistant message): a turn whose tool calls have no committed results yet is loaded with a
 * synthetic error result for each, as the agent answers an interrupted call.
 *
 * Every operation takes the tenant: a session belongs to one tenant, and another tenant's session
 * id is `NotFound` (ids are per tenant, so the same id in two tenants is two sessions).
 *
 * Layers:
 * - {@link layerFileSystem}: the embedded default, no server: one append-only JSON-lines file per
 *   session in a directory, each commit one `write` plus `fdatasync`; one process at a time.
 * - {@link layerPostgres}: PostgreSQL through `@effect/sql-pg`, for many processes and machines.
 * - {@link layerMemory}: in memory, for tests; the same contract, nothing survives the process.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Message, SessionStore, Usage } from "data-harness"
 *
 * const program = Effect.gen(function*() {
 *   const store = yield* SessionStore.SessionStore
 *   const session = yield* store.create("acme")
 *   const key = { tenant: "acme", id: session.id }
 *   yield* store.commit(key, [SessionStore.userStep("What is the total revenue?")])
 *   yield* store.commit(key, [SessionStore.turnStep([Message.text("200.")], Usage.make({ outputTokens: 3 }))])
 *   const resumed = yield* store.load(key)          // after a restart too
 * }).pipe(Effect.provide(SessionStore.layerFileSystem({ directory: "./sessions" })))
 * ```
 * @since 0.2.0
 */
import type { PgClient } from "@effect/sql-pg"
import { Context, Effect, Layer } from "effect"
import type { SqlClient } from "effect/sql"
import { makeFileSystem } from "./internal/fileSystem.js"
import { makeMemory } from "./internal/memory.js"
import type { PostgresOptions } from "./internal/postgres.js"
import type { StoreError } from "./StoreError.js"
import type { Options, Service } from "./service.js"

export type { PostgresOptions } from "./internal/postgres.js"
export {
  AskEnd,
  DataRef,
  OptionsStep,
  optionsStep,
  PutHandleStep,
  putHandleStep,
  RemoveHandleStep,
  removeHandleStep,
  Step,
  type StoredEvent,
  StoredHandle,
  StoredSnapshot,
  ToolResultsStep,
  TurnStep,
  toolResultsStep,
  turnStep,
  UsageStep,
  UserStep,
  usageStep,
  userStep
} from "./Step.js"
export { StoreError, StoreErrorReason } from "./StoreError.js"
export type {
  AskInfo,
  CommitOptions,
  CreateOptions,
  EventsPage,
  ImportOptions,
  Options,
  Service,
  SessionInfo,
  SessionKey,
  StoredSession
} from "./service.js"

/**
 * The session store service.
 * @since 0.2.0
 */
export class SessionStore extends Context.Service<SessionStore, Service>()("data-harness/SessionStore") {}

// layers

/**
 * The embedded store: one append-only JSON-lines file per session under `directory` (created when
 * missing), each commit one line written and flushed with `fdatasync` before it returns; a torn
 * last line (a crash during the write) is dropped when the file is next read. Data files live in
 * `directory/data`, shared with forks by hard links. The directory is locked for this process
 * (`Locked` in another one); use {@link layerPostgres} for several processes.
 * @since 0.2.0
 */
export const layerFileSystem = (
  options: Options & { readonly directory: string }
): Layer.Layer<SessionStore, StoreError> => Layer.effect(SessionStore, makeFileSystem(options))

/**
 * A store in memory, for tests: the same contract, nothing survives the layer. Data files go to
 * `dataDirectory`, or to a temporary directory removed with the layer.
 * @since 0.2.0
 */
export const layerMemory = (
  options?: Options & { readonly dataDirectory?: string | undefined }
): Layer.Layer<SessionStore, StoreError> => Layer.effect(SessionStore, makeMemory(options ?? {}))

/**
 * The store on PostgreSQL through a `SqlClient` you provide (`PgClient.layer(...)`, shared with
 * other users of the pool such as the cluster). It runs its migrations (table
 * `data_harness_migrations`) when the layer starts; concurrent starts are serialized by the
 * migrator's table lock. Data files go to `dataDirectory` (shared storage when several machines
 * serve the same sessions); without it `importData` and `dataPath` fail with a message saying so.
 * @since 0.2.0
 */
export const layerSql = (
  options?: Options & PostgresOptions
): Layer.Layer<SessionStore, StoreError, SqlClient.SqlClient> =>
  Layer.unwrap(
    Effect.map(loadPostgres, ([postgres]) => Layer.effect(SessionStore, postgres.makePostgres(options ?? {})))
  )

/**
 * The store on PostgreSQL with its own connection pool (`@effect/sql-pg`), for many processes and
 * machines: {@link layerSql} over `PgClient.layer(connection)`. A database it cannot reach is a
 * `StoreError` of reason `Unavailable` (retryable).
 *
 * @example
 * ```ts
 * SessionStore.layerPostgres({
 *   connection: { url: Redacted.make("postgres://app@db/app"), maxConnections: 10 },
 *   dataDirectory: "/mnt/shared/data-harness"
 * })
 * ```
 * @since 0.2.0
 */
export const layerPostgres = (
  options: Options & PostgresOptions & { readonly connection: PgClient.PgPoolConfig }
): Layer.Layer<SessionStore, StoreError> =>
  Layer.unwrap(
    Effect.map(loadPostgres, ([postgres, { PgClient }]) =>
      Layer.effect(SessionStore, postgres.makePostgres(options)).pipe(
        Layer.provide(PgClient.layer(options.connection)),
        Layer.catchTag("SqlError", (error) => Layer.effect(SessionStore, Effect.fail(postgres.fromSqlError()(error))))
      )
    )
  )

/** The Postgres modules, loaded when a Postgres layer is built (users of the other layers never load them). */
const loadPostgres = Effect.promise(() => Promise.all([import("./internal/postgres.js"), import("@effect/sql-pg")]))
