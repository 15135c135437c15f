/**
 * A conversation with an agent, held in `Ref`s: its messages, its usage totals, its visible tools
 * and its data handles.
 *
 * A session is a scoped resource: `agent.session()` needs a `Scope`, and when the scope closes
 * (on success, failure or interruption) the session's data store and its embedded database are
 * released. `agent.withSession(f)` gives one for the length of `f`.
 *
 * Asks on one session are serialised: two concurrent asks produce two whole, well-ordered
 * exchanges. The history a session sends is always valid for the provider (roles alternate, no
 * text block is empty or whitespace-only, and every `tool_use` is answered by exactly one
 * `tool_result` before the next model call), also after a failure, a timeout or an interruption.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 *
 * const program = Effect.scoped(
 *   Effect.gen(function*() {
 *     const session = yield* agent.session()
 *     yield* session.put("sales", rows)
 *     return yield* session.ask("What is the total revenue?")
 *   })
 * ) // the session's database is closed here
 * ```
 * @since 0.1.0
 */
import type { Duration, Effect, Scope, Stream } from "effect"
import type * as Approval from "../control/Approval.js"
import type * as Budget from "../control/Budget.js"
import type * as Compaction from "../control/Compaction.js"
import type * as Hooks from "../control/Hooks.js"
import type * as Cost from "../core/Cost.js"
import type { DataError, HarnessError, NothingToResume } from "../core/HarnessError.js"
import type * as Message from "../core/Message.js"
import type { RunResult } from "../core/RunResult.js"
import type { StoreError } from "../core/StoreError.js"
import type * as StreamEvent from "../core/StreamEvent.js"
import type * as Usage from "../core/Usage.js"
import type * as Data from "../data/Data.js"
import type * as Provider from "../provider/Provider.js"
import type { AnswerSchema, InvalidAnswer, Type } from "./Answer.js"

/**
 * Per-phase time limits (see `HarnessError.TimeoutPhase`), each a `Duration.Input` (`"30 seconds"`,
 * milliseconds, a `Duration`). Defaults: `request` 5 minutes (until the response headers),
 * `firstEvent` 10 minutes (from the request to the first event), `idle` 5 minutes (between two
 * events); `tool`, `turn` and `run` unset (no limit). `"Infinity"` turns a default off.
 * @since 0.1.0
 */
export interface Timeouts {
  readonly request?: Duration.Input | undefined
  readonly firstEvent?: Duration.Input | undefined
  readonly idle?: Duration.Input | undefined
  readonly tool?: Duration.Input | undefined
  readonly turn?: Duration.Input | undefined
  readonly run?: Duration.Input | undefined
}

/**
 * The model parameters of a turn. `Agent.make` takes them as defaults, and each ask overrides
 * them one by one. Checked before anything is added to the session: a value of the wrong type or
 * out of the range every provider shares (or a `toolChoice` naming a tool the agent does not
 * have) is an `InvalidOptions`; a value only the provider refuses (Anthropic: a temperature above
 * 1, a thinking budget below 1024; OpenAI: `topK`) is the provider's `InvalidOptions`, before its
 * request is sent, and the session is unchanged too.
 * @since 0.2.0
 */
export interface ModelOptions {
  /** The model, overriding the provider layer's. */
  readonly model?: string | undefined
  /** Output limit of a turn (a whole number >= 1). */
  readonly maxTokens?: number | undefined
  /** 0..2 (Anthropic takes 0..1). */
  readonly temperature?: number | undefined
  /** 0..1. */
  readonly topP?: number | undefined
  /** A whole number >= 1 (not taken by OpenAI itself). */
  readonly topK?: number | undefined
  /** Non-empty strings that end the turn when the model writes one. */
  readonly stopSequences?: ReadonlyArray<string> | undefined
  /**
   * Extended thinking: `{ budgetTokens }` (the same as `{ type: "enabled", budgetTokens }`),
   * `{ type: "adaptive" }` or `{ type: "disabled" }`.
   */
  readonly thinking?: Provider.Thinking | { readonly budgetTokens: number } | undefined
  /**
   * Which tools the model may call: `"auto"`, `"any"` (it must call one), `"none"`, or
   * `{ type: "tool", name }` (it must call that one; a tool the agent has), each also as an
   * object with `disableParallelToolUse`. A forced choice (`any` or a named tool) holds until the
   * model has called a tool in the ask; the turns after that choose freely (`auto`), so that the
   * run can end.
   */
  readonly toolChoice?: "auto" | "any" | "none" | Provider.ToolChoice | undefined
  /** Request metadata: an opaque end-user id (Anthropic `metadata.user_id`, OpenAI `user`). */
  readonly metadata?: Provider.Metadata | undefined
}

/**
 * Options of one ask, overriding the agent's: timeouts, model parameters and a system prompt
 * addition ({@link TypedAskOptions} adds a typed answer).
 * @since 0.1.0
 */
export interface AskOptions extends ModelOptions {
  readonly timeouts?: Timeouts | undefined
  /**
   * Instructions for this ask only. Sent as a second system block after the agent's system
   * prompt, which stays byte-identical as the first block (with its own cache marker), so the
   * cached prefix of tools and system prompt is read as before; the ask's turns share the addition,
   * so each reads the cache the previous one wrote. Empty or whitespace-only adds nothing.
   */
  readonly system?: string | undefined
  /** Hooks for this ask only, run after the agent's (see `Hooks`). */
  readonly hooks?: ReadonlyArray<Hooks.Hooks> | Hooks.Hooks | undefined
  /** This ask's budget, instead of the agent's `budget.ask` (see `Budget`). */
  readonly budget?: Budget.Limits | undefined
}

/**
 * An ask's options with a typed answer: `answer` is a schema for this ask's answer (see
 * `Agent.Options.answer`), and `RunResult.value` is decoded with it. The agent must have the
 * `answer` tool (the default). Such an ask can also fail with `InvalidAnswer`.
 * @since 0.2.0
 */
export interface TypedAskOptions<S extends AnswerSchema> extends AskOptions {
  readonly answer: S
}

/**
 * What a prompt can be: text, or content blocks (`Message.text`, `Message.image`,
 * `Message.pdf`), each checked with its Schema before anything is added to the session (a bad
 * block is an `InvalidOptions` naming it, e.g. `prompt[1]`).
 * @since 0.2.0
 */
export type Prompt = string | ReadonlyArray<Message.ContentBlock>

/**
 * A run's result whose `value` (what the model gave the `answer` tool) has type `A`.
 * @since 0.2.0
 */
export type Result<A = unknown> = RunResult & { readonly value?: A | undefined }

/**
 * The errors of an ask with a typed answer: a run's errors, and `InvalidAnswer`.
 * @since 0.2.0
 */
export type TypedError = HarnessError | InvalidAnswer

/**
 * A session: ask in it, read its history and usage, put data into it.
 *
 * @example
 * ```ts
 * const answer = yield* session.ask("What is the total revenue?")
 * const history = yield* session.history
 * ```
 * @since 0.1.0
 */
export interface Session<A = unknown, E = HarnessError> {
  /**
   * The session's id: in its session store when it has one (`agent.session({ id })` resumes it),
   * else a random UUID.
   */
  readonly id: string
  /**
   * Asks and returns the final text. Fails with `MaxTurnsExceeded` when the turn limit is hit,
   * and with `InvalidOptions` (before anything is added) for an invalid option, an empty or
   * whitespace-only prompt or an invalid content block.
   */
  readonly ask: {
    <S extends AnswerSchema>(prompt: Prompt, options: TypedAskOptions<S>): Effect.Effect<string, E | InvalidAnswer>
    (prompt: Prompt, options?: AskOptions): Effect.Effect<string, E>
  }
  /**
   * Asks and returns the whole result; a turn limit is `status: "max_turns"`, not a failure. With
   * a typed answer (the agent's, or this ask's `answer`) `value` has its type.
   */
  readonly askResult: {
    <S extends AnswerSchema>(
      prompt: Prompt,
      options: TypedAskOptions<S>
    ): Effect.Effect<Result<Type<S>>, E | InvalidAnswer>
    (prompt: Prompt, options?: AskOptions): Effect.Effect<Result<A>, E>
  }
  /**
   * Asks and streams every event. Ends after the final `message_stop`; fails with
   * `MaxTurnsExceeded` after the last event when the turn limit is hit.
   */
  readonly askStream: {
    <S extends AnswerSchema>(
      prompt: Prompt,
      options: TypedAskOptions<S>
    ): Stream.Stream<StreamEvent.StreamEvent, E | InvalidAnswer>
    (prompt: Prompt, options?: AskOptions): Stream.Stream<StreamEvent.StreamEvent, E>
  }
  /**
   * Continues the ask an earlier one left off, and returns the final text (as `ask`). With a
   * session store, an ask that ends while tool calls wait for approval (interrupted, its consumer
   * gone, its process restarted) leaves them waiting: `resume` announces each again with an
   * `approval_request` (unless it was decided already), runs or denies it once decided, and goes
   * on to the model's next turn. It also continues an ask cut off before the model answered its
   * last user message. Fails with `NothingToResume` when there is neither; waits for a running
   * ask to end first, like an ask.
   *
   * @example
   * ```ts
   * const session = yield* agent.session({ id }) // after a restart
   * for (const call of yield* session.approvals) yield* session.approve(call.toolUseId)
   * const answer = yield* session.resume()
   * ```
   */
  readonly resume: (options?: AskOptions) => Effect.Effect<string, E | NothingToResume>
  /** `resume`, returning the whole result (as `askResult`). */
  readonly resumeResult: (options?: AskOptions) => Effect.Effect<Result<A>, E | NothingToResume>
  /** `resume`, streaming every event (as `askStream`). */
  readonly resumeStream: (options?: AskOptions) => Stream.Stream<StreamEvent.StreamEvent, E | NothingToResume>
  /** The conversation so far. */
  readonly history: Effect.Effect<Message.History>
  /** Usage summed over every ask of the session. */
  readonly usage: Effect.Effect<Usage.Usage>
  /**
   * Stores a value under a handle name; returns the name it got. With a session store the handle
   * is committed before this returns (a table's rows as Parquet), or it fails with `StoreError`.
   */
  readonly put: (
    name: string,
    value: unknown,
    options?: Data.PutOptions
  ) => Effect.Effect<string, DataError | StoreError>
  /**
   * Stores a file (CSV, Parquet, JSON) by path; the data stays in the file (a session store keeps
   * the path: the file must still be there when the session is resumed). Returns the handle name.
   */
  readonly putFile: (
    name: string,
    path: string,
    options?: Data.PutFileOptions
  ) => Effect.Effect<string, DataError | StoreError>
  /** Removes the handle of that name (ignoring case); with a session store, committed before it returns. */
  readonly remove: (name: string) => Effect.Effect<void, StoreError>
  /** The session's data handles. */
  readonly handles: Effect.Effect<ReadonlyArray<Data.Handle>>
  /**
   * How a handle was made, back to its sources (`put`/`putFile`, the `sql` statements and
   * `javascript` code and the handle versions each read); a `DataError` `NotFound` for an
   * unknown name.
   */
  readonly lineage: (name: string) => Effect.Effect<Data.Lineage, DataError>
  /**
   * A copy of this session under a new id (`id`, or a random UUID) in its session store: history,
   * usage and handles as committed, the handles' data files shared (not copied); asks on either
   * never change the other. A resource of the `Scope`, like `agent.session()`. Without a session
   * store it fails with `StoreError` (`InvalidInput`).
   *
   * @example
   * ```ts
   * const what = yield* session.fork()
   * yield* what.ask("And if EU revenue doubled?") // the original session is unchanged
   * ```
   */
  readonly fork: (options?: {
    readonly id?: string | undefined
  }) => Effect.Effect<Session<A, E>, StoreError, Scope.Scope>
  /**
   * The handle store itself, for tools and extensions. With a session store, changes made through
   * it are committed with the session's next commit (its next ask, `put` or `remove`).
   */
  readonly data: Data.Store
  /**
   * Releases the session's embedded database now, before its scope closes; the session stays
   * usable (the database reopens on demand, and is released again with the scope).
   */
  readonly close: Effect.Effect<void>
  /**
   * Runs a tool call that waits for approval (the `tool_use_id` of an `approval_request` event),
   * with `input` instead of the model's when given. Fails with `ApprovalNotPending` when no call
   * waits under that id. With a session store the decision is committed first (a session loaded
   * later finds the call decided, for `resume`); a store that cannot commit it fails with
   * `StoreError`, and the call still waits.
   */
  readonly approve: (
    toolUseId: string,
    options?: { readonly input?: unknown }
  ) => Effect.Effect<void, Approval.ApprovalNotPending | StoreError>
  /**
   * Refuses a waiting tool call: the model reads `reason` as its error result, and the ask goes
   * on (with a call left waiting by an ended ask: when `resume` continues it).
   */
  readonly deny: (toolUseId: string, reason: string) => Effect.Effect<void, Approval.ApprovalNotPending | StoreError>
  /**
   * The tool calls waiting for approval now, decided ones not included (values that can be
   * stored, see `Approval.Pending`); with a session store, also those an ended ask left waiting.
   */
  readonly approvals: Effect.Effect<ReadonlyArray<Approval.Pending>>
  /**
   * Compacts the history now (offload large tool results, summarise all but the last
   * `compaction.keepTurns` turns), waiting for a running ask to end; the record, or `undefined`
   * when there was nothing to compact. Fails with `CompactionFailed` when the summariser fails
   * (the history unchanged), and with `StoreError` when a session store cannot commit it.
   */
  readonly compact: Effect.Effect<Compaction.Record | undefined, Compaction.CompactionFailed | StoreError>
  /** Every compaction of this session, oldest first (see `Compaction.Record`). */
  readonly compactions: Effect.Effect<ReadonlyArray<Compaction.Record>>
  /** What the session's asks (and compactions) cost, summed. */
  readonly cost: Effect.Effect<Cost.Cost>
  /** What the session spent, as its budget counts it. */
  readonly spent: Effect.Effect<Cost.Spent>
}
