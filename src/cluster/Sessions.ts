/**
 * The cluster's sessions as a service, from any member of the cluster (a runner or a client):
 * each call goes through `Sharding` to the runner that owns the session. Cluster errors become
 * `SessionUnavailable`, every wait has a deadline, and an ask's events arrive once each (a call
 * re-sent after its runner died replays them; they are dropped by id).
 *
 * The layers are in `Cluster` (`Cluster.layer`, `Cluster.layerClient`, `Cluster.layerLocal`),
 * which also re-exports the service as `Cluster.Sessions`.
 *
 * | operation | fails with |
 * | --- | --- |
 * | `create` | `StoreError` |
 * | `ask`, `askStream` | the ask's own errors (`ProviderError`, `Timeout`, `MaxTurnsExceeded`, `InvalidOptions`), `StoreError` (e.g. `NotFound`), `AskInterrupted` (its runner died), `SessionUnavailable` |
 * | `interrupt` | `SessionUnavailable` |
 * | `history` | `StoreError`, `SessionUnavailable` |
 * | `put` | `DataError`, `StoreError`, `SessionUnavailable` |
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Cluster } from "data-harness/cluster"
 *
 * const program = Effect.gen(function*() {
 *   const sessions = yield* Cluster.Sessions
 *   const key = yield* sessions.create("acme")
 *   const reply = yield* sessions.ask(key, "What is the total revenue?")
 *   return `${reply.text} (answered on ${reply.runner})`
 * })
 * ```
 * @since 0.2.0
 */
import { randomUUID } from "node:crypto"
import { Context, Duration, Effect, Result, Stream } from "effect"
import type { Sharding } from "effect/cluster"
import type { DataError } from "../core/HarnessError.js"
import * as StreamEvent from "../core/StreamEvent.js"
import type * as Usage from "../core/Usage.js"
import type * as SessionStore from "../store/SessionStore.js"
import type { StoreError } from "../store/StoreError.js"
import * as SessionEntity from "./SessionEntity.js"

/**
 * What `ask` returns.
 * @since 0.2.0
 */
export interface AskReply {
  readonly askId: string
  /** The last turn's text (what `session.ask` returns). */
  readonly text: string
  readonly status: SessionEntity.DoneStatus
  readonly usage: Usage.Usage
  /** The runner that ran the ask, and the entity id that served it. */
  readonly runner: string
  readonly session: string
}

/**
 * Options of one ask.
 * @since 0.2.0
 */
export interface AskOptions {
  /** The ask's id (1-128 letters, digits, `_`, `-`); a random UUID when absent. An id runs once. */
  readonly askId?: string | undefined
}

/**
 * The service's operations.
 * @since 0.2.0
 */
export interface Service {
  /** Creates a stored session (it starts on a runner at its first call). */
  readonly create: (
    tenant: string,
    options?: SessionStore.CreateOptions
  ) => Effect.Effect<SessionStore.SessionKey, StoreError>
  /** Asks; the ask's events (each once, by id), then its `Done`. */
  readonly askStream: (
    key: SessionStore.SessionKey,
    prompt: string,
    options?: AskOptions
  ) => Stream.Stream<SessionEntity.AskChunk, SessionEntity.AskError | SessionEntity.SessionUnavailable>
  /** Asks; the final text and where it ran (`askStream` folded). */
  readonly ask: (
    key: SessionStore.SessionKey,
    prompt: string,
    options?: AskOptions
  ) => Effect.Effect<AskReply, SessionEntity.AskError | SessionEntity.SessionUnavailable>
  /** Interrupts the session's running ask on its runner; the ask's id once it ended (`undefined`: none ran). */
  readonly interrupt: (
    key: SessionStore.SessionKey
  ) => Effect.Effect<string | undefined, SessionEntity.SessionUnavailable>
  /** The session's conversation and usage, the runner that holds it, and its running ask. */
  readonly history: (
    key: SessionStore.SessionKey
  ) => Effect.Effect<SessionEntity.HistoryReply, StoreError | SessionEntity.SessionUnavailable>
  /** Stores a small JSON value under a handle name (between asks); the name it got. */
  readonly put: (
    key: SessionStore.SessionKey,
    name: string,
    value: unknown,
    options?: { readonly description?: string | undefined; readonly overwrite?: boolean | undefined }
  ) => Effect.Effect<string, DataError | StoreError | SessionEntity.SessionUnavailable>
}

/**
 * The cluster's sessions.
 * @since 0.2.0
 */
export class Sessions extends Context.Service<Sessions, Service>()("data-harness/cluster/Sessions") {}

/** The errors of the cluster's client, as `SessionUnavailable`. */
type ClusterClientError = { readonly _tag: string }

const unavailable = (reason: SessionEntity.UnavailableReason, message: string) =>
  new SessionEntity.SessionUnavailable({ reason, message })

const clusterError = (error: ClusterClientError) => {
  switch (error._tag) {
    case "MailboxFull":
      return unavailable("MailboxFull", "The session's mailbox on its runner is full: retry after a while.")
    case "AlreadyProcessingMessage":
      return unavailable(
        "AlreadyProcessing",
        "The session is already processing this request: wait for it, then retry."
      )
    case "PersistenceError":
      return unavailable("Persistence", "The cluster's message storage failed: check the database, then retry.")
    default:
      return unavailable(
        "NotAssigned",
        "The session's shard has no runner (the cluster is shutting down or rebalancing): retry after a while."
      )
  }
}

/** Maps the cluster client's own errors; the call's typed errors pass through. */
const mapClusterErrors = <E extends { readonly _tag: string }>(
  error: E
):
  | Exclude<
      E,
      { readonly _tag: "MailboxFull" | "AlreadyProcessingMessage" | "PersistenceError" | "EntityNotAssignedToRunner" }
    >
  | SessionEntity.SessionUnavailable => (isClusterError(error) ? clusterError(error) : (error as never))

const clusterTags = new Set([
  "MailboxFull",
  "AlreadyProcessingMessage",
  "PersistenceError",
  "EntityNotAssignedToRunner"
])
const isClusterError = (error: { readonly _tag: string }): boolean => clusterTags.has(error._tag)

const timedOut = (timeout: Duration.Duration) =>
  unavailable(
    "Timeout",
    `No runner answered for ${Duration.format(timeout)}: every runner may be down, or a failover is taking ` +
      "longer (it takes about the shard lock expiration). Retry; an ask keeps its id and never runs twice."
  )

/**
 * Builds the service over a `Sharding` (a runner's or a client's) and the store; the `Cluster`
 * layers call it.
 * @since 0.2.0
 */
export const make = (options: {
  readonly sharding: Sharding.Sharding["Service"]
  readonly store: SessionStore.Service
  /** How long a call waits for its answer, and an ask for its next event. */
  readonly timeout: Duration.Duration
}): Effect.Effect<Service> =>
  Effect.gen(function* () {
    const clientFor = yield* options.sharding.makeClient(SessionEntity.Session)
    const entity: EntityCalls = {
      client: (key) => clientFor(SessionEntity.entityId(key)),
      timeout: options.timeout
    }
    const askStream = askStreamOf(entity)
    const service: Service = {
      create: (tenant, createOptions) =>
        Effect.map(options.store.create(tenant, createOptions), (session) => ({ tenant, id: session.id })),
      askStream,
      ask: (key, prompt, askOptions) => replyOf(askStream(key, prompt, askOptions)),
      interrupt: (key) =>
        deadline(entity, entity.client(key).Interrupt().pipe(Effect.mapError(mapClusterErrors))).pipe(
          Effect.map((askId) => askId ?? undefined)
        ),
      history: (key) => deadline(entity, entity.client(key).History().pipe(Effect.mapError(mapClusterErrors))),
      put: (key, name, value, putOptions) =>
        deadline(
          entity,
          entity
            .client(key)
            .Put({
              name,
              value: value as never,
              ...(putOptions?.description === undefined ? {} : { description: putOptions.description }),
              ...(putOptions?.overwrite === undefined ? {} : { overwrite: putOptions.overwrite })
            })
            .pipe(Effect.mapError(mapClusterErrors))
        )
    }
    return service
  })

/** The cluster's client of one session's entity. */
type EntityClient = ReturnType<Effect.Success<typeof SessionEntity.Session.client>>

/** How the service calls a session's entity, and how long it waits. */
interface EntityCalls {
  readonly client: (key: SessionStore.SessionKey) => EntityClient
  readonly timeout: Duration.Duration
}

/** `effect`, failing with `SessionUnavailable` when it has no answer within the timeout. */
const deadline = <A, E>(entity: EntityCalls, effect: Effect.Effect<A, E>) =>
  Effect.timeoutOrElse(effect, {
    duration: entity.timeout,
    orElse: () => Effect.fail(timedOut(entity.timeout))
  })

/**
 * `askStream`: the entity's `Ask`, each event at most once (a call re-sent after its runner died
 * replays what was seen), failing with `SessionUnavailable` when no event comes within the timeout.
 */
const askStreamOf =
  (entity: EntityCalls): Service["askStream"] =>
  (key, prompt, askOptions) =>
    Stream.suspend(() => {
      const askId = askOptions?.askId ?? randomUUID()
      let seen = 0
      return entity
        .client(key)
        .Ask({ askId, prompt })
        .pipe(
          Stream.mapError(mapClusterErrors),
          Stream.timeoutOrElse({
            duration: entity.timeout,
            orElse: () => Stream.fail(timedOut(entity.timeout))
          }),
          // a call re-sent after its runner died replays the ask's stored events: drop the ones seen
          Stream.filter((chunk) => {
            if (chunk._tag !== "Event") return true
            if (chunk.id <= seen) return false
            seen = chunk.id
            return true
          })
        )
    })

/** `ask`: an ask's stream folded into its reply, the last turn's text and its `Done`. */
const replyOf = <E>(chunks: Stream.Stream<SessionEntity.AskChunk, E>): Effect.Effect<AskReply, E> =>
  Effect.suspend(() => {
    let text = ""
    let done: SessionEntity.AskDone | undefined
    return Stream.runForEach(chunks, (chunk) =>
      Effect.sync(() => {
        if (chunk._tag === "Done") done = chunk
        else text = foldText(text, chunk.event)
      })
    ).pipe(
      Effect.map(
        (): AskReply => ({
          askId: done!.askId,
          text,
          status: done!.status,
          usage: done!.usage,
          runner: done!.runner,
          session: done!.session
        })
      )
    )
  })

/** The text of the turn in progress after `event`: a new turn or a `discard` starts it over. */
const foldText = (text: string, event: StreamEvent.StreamEvent): string => {
  if (event.type === "message_start" || event.type === "discard") return ""
  const delta = StreamEvent.textDelta(event)
  return Result.isSuccess(delta) ? text + delta.success : text
}
