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
 * | `approvals` | `StoreError`, `SessionUnavailable` |
 * | `approve`, `deny` | `ApprovalNotPending`, `StoreError`, `SessionUnavailable` |
 * | `events` | as `askStream` |
 *
 * An ask's deadline (no event for `timeout`) does not run while the ask waits for a decision: from
 * an `approval_request` to the call's `tool_result`, however long a person takes.
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
import type * as Approval from "../control/Approval.js"
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
  /**
   * The session's tool calls waiting for approval: those of its running ask, and those an ask
   * that ended (interrupted, or cut off with its runner) left waiting.
   */
  readonly approvals: (
    key: SessionStore.SessionKey
  ) => Effect.Effect<ReadonlyArray<SessionEntity.PendingApproval>, StoreError | SessionEntity.SessionUnavailable>
  /**
   * Runs a waiting call (with `input` instead of the model's when given); the id of the ask that
   * goes on with it. With no ask running, the decision starts one that resumes the paused ask on
   * the session's runner (read it with `events`).
   */
  readonly approve: (
    key: SessionStore.SessionKey,
    toolUseId: string,
    options?: { readonly input?: unknown }
  ) => Effect.Effect<string, Approval.ApprovalNotPending | StoreError | SessionEntity.SessionUnavailable>
  /** Denies a waiting call (the model reads `reason` as its error result); as `approve` otherwise. */
  readonly deny: (
    key: SessionStore.SessionKey,
    toolUseId: string,
    reason: string
  ) => Effect.Effect<string, Approval.ApprovalNotPending | StoreError | SessionEntity.SessionUnavailable>
  /**
   * The events of ask `askId` after event id `after` (default 0: all), each once: the stored ones,
   * then the live ones while it runs, then its `Done` (or its error).
   */
  readonly events: (
    key: SessionStore.SessionKey,
    askId: string,
    options?: { readonly after?: number | undefined }
  ) => Stream.Stream<SessionEntity.AskChunk, SessionEntity.AskError | SessionEntity.SessionUnavailable>
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
        ),
      approvals: (key) => deadline(entity, entity.client(key).Approvals().pipe(Effect.mapError(mapClusterErrors))),
      approve: (key, toolUseId, approveOptions) =>
        decide(entity, key, toolUseId, {
          _tag: "Approved",
          ...(approveOptions !== undefined && "input" in approveOptions ? { input: approveOptions.input as never } : {})
        }),
      deny: (key, toolUseId, reason) => decide(entity, key, toolUseId, { _tag: "Denied", reason }),
      events: (key, askId, eventsOptions) =>
        Stream.suspend(() => chunksOf(entity, entity.client(key).Events({ askId, after: eventsOptions?.after ?? 0 })))
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

/** `Decide` on the session's entity. */
const decide = (
  entity: EntityCalls,
  key: SessionStore.SessionKey,
  toolUseId: string,
  decision: SessionEntity.Decision
) => deadline(entity, entity.client(key).Decide({ toolUseId, decision }).pipe(Effect.mapError(mapClusterErrors)))

/** `askStream`: the entity's `Ask`, as {@link chunksOf}. */
const askStreamOf =
  (entity: EntityCalls): Service["askStream"] =>
  (key, prompt, askOptions) =>
    Stream.suspend(() => chunksOf(entity, entity.client(key).Ask({ askId: askOptions?.askId ?? randomUUID(), prompt })))

/**
 * An ask's chunks from its entity, each event at most once (a call re-sent after its runner died
 * replays what was seen), failing with `SessionUnavailable` when no event comes within the timeout
 * while no call waits for a decision.
 */
const chunksOf = <E extends { readonly _tag: string }>(
  entity: EntityCalls,
  chunks: Stream.Stream<SessionEntity.AskChunk, E>
) => {
  let seen = 0
  return chunks.pipe(
    Stream.mapError(mapClusterErrors),
    withinDeadline(entity.timeout),
    // a call re-sent after its runner died replays the ask's stored events: drop the ones seen
    Stream.filter((chunk) => {
      if (chunk._tag !== "Event") return true
      if (chunk.id <= seen) return false
      seen = chunk.id
      return true
    })
  )
}

/**
 * Fails with `SessionUnavailable` when a pull gets no chunk within `timeout`, except while a call
 * announced by an `approval_request` has no `tool_result` yet: a person may take any time.
 */
const withinDeadline =
  (timeout: Duration.Duration) =>
  <E>(
    chunks: Stream.Stream<SessionEntity.AskChunk, E>
  ): Stream.Stream<SessionEntity.AskChunk, E | SessionEntity.SessionUnavailable> =>
    Stream.transformPull(chunks, (pull) =>
      Effect.sync(() => {
        const waiting = new Set<string>()
        const timed = Effect.timeoutOrElse(pull, { duration: timeout, orElse: () => Effect.fail(timedOut(timeout)) })
        return Effect.suspend(() => (waiting.size > 0 ? pull : timed)).pipe(
          Effect.tap((batch) =>
            Effect.sync(() => {
              for (const chunk of batch) {
                if (chunk._tag !== "Event") continue
                const event = chunk.event
                if (event.type === "approval_request") waiting.add(event.tool_use_id)
                else if (event.type === "tool_result") waiting.delete(event.tool_use_id)
              }
            })
          )
        )
      })
    )

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
