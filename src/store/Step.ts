/**
 * What a session store keeps: committed steps, stored handles, data files and the events of an ask,
 * as Schemas (so every layer encodes them to the same JSON and decodes them back equal).
 *
 * A session's state is the fold of its steps, in commit order:
 * - `User`: user blocks (a prompt), merged into a trailing user message;
 * - `Turn`: a completed assistant turn with its usage, merged into a trailing assistant message
 *   (a `pause_turn` continuation);
 * - `ToolResults`: `tool_result` blocks answering the pending `tool_use`s of the last turn;
 * - `Usage`: usage not carried by a stored turn (a discarded attempt of a retried turn);
 * - `PutHandle` / `RemoveHandle`: a data handle added, replaced or removed;
 * - `Options`: the session's options replaced;
 * - `Compacted`: the history replaced by a compaction;
 * - `ApprovalRequested`: a pending `tool_use` of the last turn waits for approval (it stays open,
 *   not answered by a synthetic result, until its result is committed or the session moves on);
 * - `ApprovalDecided`: a waiting call was approved or denied, and no result answers it yet.
 *
 * @since 0.2.0
 */
import { Schema } from "effect"
import * as Message from "../core/Message.js"
import { Usage } from "../core/Usage.js"

// data files

/**
 * A data file of a handle in the store's data directory: immutable, named by its content hash,
 * shared (not copied) by forks. `SessionStore.dataPath` gives its path for a session.
 * @since 0.2.0
 */
export const DataRef = Schema.Struct({
  sha256: Schema.String.check(Schema.isPattern(/^[0-9a-f]{64}$/)),
  bytes: Schema.Number.check(Schema.isInt(), Schema.isGreaterThanOrEqualTo(0)),
  /** The file format, also the file's extension: `parquet` for tables. */
  format: Schema.String.check(Schema.isPattern(/^[a-z0-9]{1,16}$/))
})
/** @since 0.2.0 */
export type DataRef = typeof DataRef.Type

// handles

const JsonRest = [Schema.Record(Schema.String, Schema.Json)] as const

/**
 * The snapshot of a handle (what the model sees): a `kind` (`table`, `array`, `object`, `scalar`)
 * and that kind's JSON fields (see `Data.Snapshot`).
 * @since 0.2.0
 */
export const StoredSnapshot = Schema.StructWithRest(Schema.Struct({ kind: Schema.String }), JsonRest)
/** @since 0.2.0 */
export type StoredSnapshot = typeof StoredSnapshot.Type

/**
 * A data handle as stored: JSON metadata, validated for the fields the harness reads, every other
 * field (lineage, later additions) kept as any JSON.
 *
 * Where the data is: `value` (a small value inline), `data` (a file in the store's data directory,
 * Parquet for tables), `path` (an outside file by absolute path), or `query` (SQL that recomputes
 * it); several may be set (a saved query result with its `data`).
 * @since 0.2.0
 */
export const StoredHandle = Schema.StructWithRest(
  Schema.Struct({
    name: Schema.String.check(Schema.isMinLength(1)),
    snapshot: StoredSnapshot,
    description: Schema.optionalKey(Schema.String),
    value: Schema.optionalKey(Schema.Json),
    data: Schema.optionalKey(DataRef),
    path: Schema.optionalKey(Schema.String),
    format: Schema.optionalKey(Schema.String),
    query: Schema.optionalKey(Schema.String),
    lineage: Schema.optionalKey(Schema.Json)
  }),
  JsonRest
)
/** @since 0.2.0 */
export type StoredHandle = typeof StoredHandle.Type

// steps

/**
 * A user message (a prompt), merged into a trailing user message.
 * @since 0.2.0
 */
export const UserStep = Schema.TaggedStruct("User", { content: Schema.Array(Message.ContentBlock) })

/**
 * A completed assistant turn and the usage it cost.
 * @since 0.2.0
 */
export const TurnStep = Schema.TaggedStruct("Turn", { content: Schema.Array(Message.ContentBlock), usage: Usage })

/**
 * Results of the pending `tool_use`s of the last turn (all or some of them).
 * @since 0.2.0
 */
export const ToolResultsStep = Schema.TaggedStruct("ToolResults", { content: Schema.Array(Message.ToolResultBlock) })

/**
 * Usage that no stored turn carries (a discarded attempt of a retried turn).
 * @since 0.2.0
 */
export const UsageStep = Schema.TaggedStruct("Usage", { usage: Usage })

/**
 * A handle added, or replaced by name.
 * @since 0.2.0
 */
export const PutHandleStep = Schema.TaggedStruct("PutHandle", { handle: StoredHandle })

/**
 * A handle removed by name.
 * @since 0.2.0
 */
export const RemoveHandleStep = Schema.TaggedStruct("RemoveHandle", { name: Schema.String })

/**
 * The session's options replaced.
 * @since 0.2.0
 */
export const OptionsStep = Schema.TaggedStruct("Options", { options: Schema.Json })

/**
 * The history replaced by a compaction (older messages summarised, large tool results moved into
 * handles); the steps after it continue from this history.
 * @since 0.2.0
 */
export const CompactedStep = Schema.TaggedStruct("Compacted", { history: Message.History })

/**
 * A tool call waiting for approval, as stored: which call, of which tool, with what input (the
 * input the approver is asked about, after any hook replaced it), why, and since when (epoch
 * milliseconds). `Approval.Pending` is the same value.
 * @since 0.2.0
 */
export const PendingApproval = Schema.Struct({
  toolUseId: Schema.String,
  tool: Schema.String,
  input: Schema.Json,
  reason: Schema.optionalKey(Schema.String),
  requestedAt: Schema.Number
})
/** @since 0.2.0 */
export type PendingApproval = typeof PendingApproval.Type

/**
 * A pending `tool_use` of the last turn waits for approval: the pause is durable. A session
 * loaded with it keeps the call open (no synthetic result), lists it in `session.approvals`, and
 * `session.resume` continues once it is decided. Its result (a `ToolResults` step) or the
 * session moving on (a `User` or `Turn` step) ends the wait.
 * @since 0.2.0
 */
export const ApprovalRequestedStep = Schema.TaggedStruct("ApprovalRequested", { approval: PendingApproval })

/**
 * What was decided about a waiting call: run it (with `input` when the approver changed it), or
 * not (the model reads `reason`). `Approval.Decision` is the same value.
 * @since 0.2.0
 */
export const ApprovalDecision = Schema.Union([
  Schema.TaggedStruct("Approved", { input: Schema.optionalKey(Schema.Json) }),
  Schema.TaggedStruct("Denied", { reason: Schema.String })
])
/** @since 0.2.0 */
export type ApprovalDecision = typeof ApprovalDecision.Type

/**
 * A waiting call as a loaded session has it: its request, and its decision once decided.
 * @since 0.2.0
 */
export type WaitingApproval = PendingApproval & { readonly decision?: ApprovalDecision }

/**
 * A waiting call was decided (with a store, `session.approve`/`deny` commit it before the ask
 * takes it): a session loaded before the ask ran or denied the call finds it decided, and
 * `session.resume` goes on with that decision.
 * @since 0.2.0
 */
export const ApprovalDecidedStep = Schema.TaggedStruct("ApprovalDecided", {
  toolUseId: Schema.String,
  decision: ApprovalDecision
})

/**
 * One change to a session. A commit is one or more steps, stored in one transaction.
 * @since 0.2.0
 */
export const Step = Schema.Union([
  UserStep,
  TurnStep,
  ToolResultsStep,
  UsageStep,
  PutHandleStep,
  RemoveHandleStep,
  OptionsStep,
  CompactedStep,
  ApprovalRequestedStep,
  ApprovalDecidedStep
])
/** @since 0.2.0 */
export type Step = typeof Step.Type

/**
 * The steps of one commit as stored.
 * @internal
 */
export const Steps = Schema.Array(Step)

// constructors

/**
 * A user message step from text or blocks.
 * @since 0.2.0
 */
export const userStep = (content: string | ReadonlyArray<Message.ContentBlock>): Step => ({
  _tag: "User",
  content: typeof content === "string" ? [Message.text(content)] : content
})

/**
 * A completed assistant turn step.
 * @since 0.2.0
 */
export const turnStep = (content: ReadonlyArray<Message.ContentBlock>, usage: Usage): Step => ({
  _tag: "Turn",
  content,
  usage
})

/**
 * A tool results step.
 * @since 0.2.0
 */
export const toolResultsStep = (content: ReadonlyArray<Message.ToolResultBlock>): Step => ({
  _tag: "ToolResults",
  content
})

/**
 * A usage-only step.
 * @since 0.2.0
 */
export const usageStep = (usage: Usage): Step => ({ _tag: "Usage", usage })

/**
 * A handle put step.
 * @since 0.2.0
 */
export const putHandleStep = (handle: StoredHandle): Step => ({ _tag: "PutHandle", handle })

/**
 * A handle removal step.
 * @since 0.2.0
 */
export const removeHandleStep = (name: string): Step => ({ _tag: "RemoveHandle", name })

/**
 * An options step.
 * @since 0.2.0
 */
export const optionsStep = (options: Schema.Json): Step => ({ _tag: "Options", options })

/**
 * A compaction step: the whole history as it now is.
 * @since 0.2.0
 */
export const compactedStep = (history: Message.History): Step => ({ _tag: "Compacted", history })

/**
 * A step recording that a pending tool call waits for approval.
 * @since 0.2.0
 */
export const approvalRequestedStep = (approval: PendingApproval): Step => ({ _tag: "ApprovalRequested", approval })

/**
 * A step recording the decision about a waiting call.
 * @since 0.2.0
 */
export const approvalDecidedStep = (toolUseId: string, decision: ApprovalDecision): Step => ({
  _tag: "ApprovalDecided",
  toolUseId,
  decision
})

// events

/**
 * How an ask ended, recorded after its last event: a reader that reaches it knows the log is
 * complete. `error` is the encoded error of a failed ask.
 * @since 0.2.0
 */
export const AskEnd = Schema.Struct({
  status: Schema.Literals(["completed", "failed", "interrupted"]),
  error: Schema.optionalKey(Schema.Json)
})
/** @since 0.2.0 */
export type AskEnd = typeof AskEnd.Type

/**
 * A stored event: its id (1, 2, … within its ask) and the event as JSON.
 * @since 0.2.0
 */
export interface StoredEvent {
  readonly id: number
  readonly event: Schema.Json
}
