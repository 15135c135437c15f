/**
 * The `Session` cluster entity: its address (a tenant's session id), its RPCs and the typed errors
 * that cross the network.
 *
 * | RPC | what | runs |
 * | --- | --- | --- |
 * | `Ask` | asks; streams the ask's events, each with its id in the ask's stored event log, then one `Done` | one at a time per session (asks queue) |
 * | `Interrupt` | interrupts the running ask on the runner that runs it; returns its id once it ended | beside a running ask |
 * | `History` | the conversation and usage so far, and which runner holds the session | beside a running ask |
 * | `Put` | stores a small JSON value under a handle | between asks |
 * | `Approvals` | the tool calls waiting for approval | beside a running ask |
 * | `Decide` | approves or denies a waiting call; with no ask running, starts the ask that resumes it | beside a running ask |
 * | `Events` | an ask's events after an id: stored, then live while it runs, then its end | beside a running ask |
 *
 * The entity id is {@link entityId}: the tenant and the session id, so the same id in two tenants
 * is two entities. Most callers use `Cluster.Sessions` instead of calling the RPCs.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { SessionEntity } from "data-harness/cluster"
 *
 * const history = Effect.gen(function*() {
 *   const client = yield* SessionEntity.Session.client
 *   return yield* client(SessionEntity.entityId({ tenant: "acme", id: "s1" })).History()
 * })
 * ```
 * @since 0.2.0
 */
import { Schema, SchemaTransformation } from "effect"
import { Entity } from "effect/cluster"
import { Rpc } from "effect/rpc"
import { ApprovalNotPending } from "../control/Approval.js"
import {
  BudgetExceeded,
  DataError,
  HookFailed,
  InvalidOptions,
  MaxTurnsExceeded,
  NothingToResume,
  ProviderError,
  RunStopped,
  Timeout
} from "../core/HarnessError.js"
import * as Message from "../core/Message.js"
import * as StreamEvent from "../core/StreamEvent.js"
import { Usage } from "../core/Usage.js"
import type { SessionKey } from "../store/SessionStore.js"
import * as Step from "../store/Step.js"
import { StoreError } from "../store/StoreError.js"

// addresses

/**
 * The entity id of a tenant's session: `<tenant>/<id>`. Session ids have no `/`, so the last `/`
 * splits it back ({@link keyOf}).
 * @since 0.2.0
 */
export const entityId = (key: SessionKey): string => `${key.tenant}/${key.id}`

/**
 * The tenant and session id of an entity id made by {@link entityId}.
 * @since 0.2.0
 */
export const keyOf = (entityId: string): SessionKey => {
  const slash = entityId.lastIndexOf("/")
  return { tenant: entityId.slice(0, slash), id: entityId.slice(slash + 1) }
}

// errors

/**
 * An ask was cut off because the runner that ran it stopped (it died, or lost its shards): the
 * ask does not run again on the new owner, because its steps so far are committed and running it
 * twice would repeat them. The session keeps every committed step; read its history, then ask
 * again to go on. The ask's stored events are delivered before this error.
 * @since 0.2.0
 */
export class AskInterrupted extends Schema.TaggedError<AskInterrupted>()("AskInterrupted", {
  askId: Schema.String,
  tenant: Schema.String,
  sessionId: Schema.String,
  message: Schema.String
}) {
  /** Not retryable as it is: the same ask id never runs twice. Ask again with a new one. */
  get isRetryable(): boolean {
    return false
  }
}

/**
 * Why {@link SessionUnavailable}.
 * @since 0.2.0
 */
export const UnavailableReason = Schema.Literals([
  "Timeout",
  "MailboxFull",
  "AlreadyProcessing",
  "NotAssigned",
  "Persistence"
])
/** @since 0.2.0 */
export type UnavailableReason = typeof UnavailableReason.Type

/**
 * The cluster could not serve the call: no runner answered in time (`Timeout`: every runner is
 * down, or a failover takes longer than the deadline), the session's mailbox is full, the same
 * request is already being processed, its shard has no runner while the cluster shuts down, or
 * the cluster's message storage failed. Retryable.
 * @since 0.2.0
 */
export class SessionUnavailable extends Schema.TaggedError<SessionUnavailable>()("SessionUnavailable", {
  reason: UnavailableReason,
  message: Schema.String
}) {
  /** A later call may find a runner. */
  get isRetryable(): boolean {
    return true
  }
}

/**
 * Every error an ask can fail with, as it crosses the network (each a Schema class, so the caller
 * gets the same typed error the runner raised).
 * @since 0.2.0
 */
export const AskError = Schema.Union([
  ProviderError,
  Timeout,
  MaxTurnsExceeded,
  InvalidOptions,
  BudgetExceeded,
  HookFailed,
  RunStopped,
  StoreError,
  AskInterrupted,
  NothingToResume
])
/** @since 0.2.0 */
export type AskError = typeof AskError.Type

// events

/**
 * A `StreamEvent` as it crosses the network: checked against the `StreamEvent` Schema and passed on
 * as it is, every field kept (a Struct schema would drop the fields the harness does not read).
 * @since 0.2.0
 */
export const Event: Schema.Codec<StreamEvent.StreamEvent> = Schema.declare(
  (u: unknown): u is StreamEvent.StreamEvent => isStreamEvent(u),
  {
    expected: "StreamEvent",
    // on the wire (the runners' binary serialization) it is the event's JSON, as it is
    toCodecJson: () =>
      Schema.link<StreamEvent.StreamEvent>()(
        Schema.Json,
        SchemaTransformation.transform({
          decode: (json) => json as StreamEvent.StreamEvent,
          encode: (event) => event as Schema.Json
        })
      )
  }
)
const isStreamEvent = Schema.is(StreamEvent.StreamEvent)

/**
 * One event of an ask: `id` is its position in the ask's stored event log (1, 2, ...), so a
 * caller that saw it drops a repeat.
 * @since 0.2.0
 */
export const AskEvent = Schema.TaggedStruct("Event", { id: Schema.Number, event: Event })
/** @since 0.2.0 */
export type AskEvent = typeof AskEvent.Type

/**
 * How an ask that did not fail ended.
 * @since 0.2.0
 */
export const DoneStatus = Schema.Literals(["completed", "interrupted"])
/** @since 0.2.0 */
export type DoneStatus = typeof DoneStatus.Type

/**
 * The last element of an ask that did not fail: its status, its usage, and where it ran (`runner`,
 * the runner's address; `session`, the entity id that served it). An ask replayed from the store
 * (its id had run before) cost nothing this time: its `usage` is zero.
 * @since 0.2.0
 */
export const AskDone = Schema.TaggedStruct("Done", {
  askId: Schema.String,
  status: DoneStatus,
  usage: Usage,
  runner: Schema.String,
  session: Schema.String
})
/** @since 0.2.0 */
export type AskDone = typeof AskDone.Type

/**
 * An element of the `Ask` stream.
 * @since 0.2.0
 */
export const AskChunk = Schema.Union([AskEvent, AskDone])
/** @since 0.2.0 */
export type AskChunk = typeof AskChunk.Type

// replies

/**
 * The reply of `History`.
 * @since 0.2.0
 */
export const HistoryReply = Schema.Struct({
  history: Message.History,
  usage: Usage,
  /** The address of the runner that holds the session. */
  runner: Schema.String,
  /** The ask running now, if one is. */
  running: Schema.optionalKey(Schema.String)
})
/** @since 0.2.0 */
export type HistoryReply = typeof HistoryReply.Type

// rpcs

/**
 * Asks in the session. `askId` names the ask (1-128 letters, digits, `_`, `-`): the cluster
 * re-sends a call whose runner died to the new owner with the same id, and an id that already ran
 * is never run again (its stored events are replayed; if it was cut off, {@link AskInterrupted}).
 * An ask cut off while a call it announced waits for approval goes on instead: its stored events,
 * then the resumed ask (the call announced again, decided with `Decide`), in the same log. The id of
 * an ask that runs without its caller (one `Decide` started) follows it, as `Events` does.
 * @since 0.2.0
 */
export const Ask = Rpc.make("Ask", {
  payload: { askId: Schema.String, prompt: Schema.String },
  success: AskChunk,
  error: AskError,
  stream: true
})

/**
 * Interrupts the running ask and waits until it ended; the id of the ask it interrupted, or
 * `null` when none was running.
 * @since 0.2.0
 */
export const Interrupt = Rpc.make("Interrupt", { success: Schema.NullOr(Schema.String) })

/**
 * The session's conversation and usage.
 * @since 0.2.0
 */
export const History = Rpc.make("History", { success: HistoryReply, error: StoreError })

/**
 * Stores a JSON value under a handle name; the name it got (`name_2` on a clash unless
 * `overwrite`). Values live in the session's store record, so keep them small; files and tables
 * belong in the store's data directory (shared storage, see the README).
 * @since 0.2.0
 */
export const Put = Rpc.make("Put", {
  payload: {
    name: Schema.String,
    value: Schema.Json,
    description: Schema.optionalKey(Schema.String),
    overwrite: Schema.optionalKey(Schema.Boolean)
  },
  success: Schema.String,
  error: Schema.Union([DataError, StoreError])
})

// approval

/**
 * A tool call waiting for approval, as it crosses the network: the store's value (the fields of
 * `Approval.Pending`; `requestedAt` in epoch milliseconds).
 * @since 0.2.0
 */
export const PendingApproval = Step.PendingApproval
/** @since 0.2.0 */
export type PendingApproval = Step.PendingApproval

/**
 * A decision about a waiting call (`Approval.Decision` on the wire, as the store keeps it): run
 * it, with `input` instead of the model's when given, or deny it with a `reason` the model reads.
 * @since 0.2.0
 */
export const Decision = Step.ApprovalDecision
/** @since 0.2.0 */
export type Decision = Step.ApprovalDecision

/**
 * The tool calls of the session waiting for approval: those of its running ask, and those an
 * ask that ended (interrupted, or cut off with its runner) left waiting.
 * @since 0.2.0
 */
export const Approvals = Rpc.make("Approvals", { success: Schema.Array(PendingApproval), error: StoreError })

/**
 * Decides a waiting call; the id of the ask that goes on with it. While an ask runs, that ask
 * takes the decision. With none running, the decision starts an ask that resumes the paused one
 * (`session.resumeStream()`) on the session's runner, whether or not anyone reads it: under the
 * paused ask's own id when its runner died before it ended (its log goes on), else under a new
 * id. Read its events with `Events`. Fails with `ApprovalNotPending` when no call waits under
 * `toolUseId`.
 * @since 0.2.0
 */
export const Decide = Rpc.make("Decide", {
  payload: { toolUseId: Schema.String, decision: Decision },
  success: Schema.String,
  error: Schema.Union([ApprovalNotPending, StoreError])
})

/**
 * The events of ask `askId` after event id `after` (0: all): those stored, then the live ones
 * while it runs on the session's runner, then its end (`Done`, or its error). An ask cut off by
 * its runner's death while a call waited is followed until a decision resumes it; any other cut
 * ask ends with `AskInterrupted`. An unknown ask id is a `StoreError` `NotFound`.
 * @since 0.2.0
 */
export const Events = Rpc.make("Events", {
  payload: { askId: Schema.String, after: Schema.Number },
  success: AskChunk,
  error: AskError,
  stream: true
})

/**
 * The entity: a session addressed by {@link entityId}.
 * @since 0.2.0
 */
export const Session = Entity.make("DataHarnessSession", [Ask, Interrupt, History, Put, Approvals, Decide, Events])
