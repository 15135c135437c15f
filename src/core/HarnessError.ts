/**
 * The typed errors of data-harness.
 *
 * Every failure a caller can act on is one of these classes, matched with `Effect.catchTag`.
 * Each says in its `message` what to do, and answers `isRetryable`: the retry policy only ever
 * retries errors that say they are retryable.
 *
 * | tag | when |
 * | --- | --- |
 * | `ProviderError` | the model provider failed: HTTP status, connection, malformed stream (see `reason`) |
 * | `Timeout` | a phase took too long (see `phase`); carries the partial turn and usage so far |
 * | `MaxTurnsExceeded` | the model still wanted tools after the last allowed turn |
 * | `DataError` | a value or file could not be put into a session |
 * | `InvalidOptions` | an option given to `Agent.make` or to one ask is not valid (see `option`) |
 * | `BudgetExceeded` | the next model or tool call would go over a budget (see `limit`, `scope`); carries what was spent |
 * | `HookFailed` | a hook (see `hook`) failed or died; the run ended, its history stays valid |
 * | `RunStopped` | a hook stopped the run (see `reason`) |
 * | `NothingToResume` | `session.resume` found no paused or cut-off ask to continue |
 * | `StoreError` | a session store could not load or commit the session (see `reason`; `SessionStore`) |
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * const safe = agent.run("hi").pipe(
 *   Effect.catchTag("ProviderError", (e) => Effect.succeed(`provider failed: ${e.reason}`))
 * )
 * ```
 * @since 0.1.0
 */
import { Schema } from "effect"
import { Cost, Spent } from "./Cost.js"
import * as Message from "./Message.js"
import type { StoreError } from "./StoreError.js"
import * as Usage from "./Usage.js"

// partial output

/**
 * What a turn had produced when it failed or was interrupted: its text so far, its content blocks
 * (complete ones and the one in progress, tool input not yet parsed left out), and the usage
 * already spent in the whole run.
 * @since 0.1.0
 */
export class Partial extends Schema.Class<Partial>("data-harness/Partial")({
  text: Schema.String,
  content: Schema.Array(Message.ContentBlock),
  usage: Usage.Usage
}) {}

/**
 * A partial output with nothing in it.
 * @since 0.1.0
 */
export const emptyPartial: Partial = new Partial({ text: "", content: [], usage: Usage.empty })

// errors

/**
 * Why a provider call failed.
 * @since 0.1.0
 */
export const ProviderErrorReason = Schema.Literals([
  "InvalidRequest",
  "Authentication",
  "Permission",
  "NotFound",
  "RequestTooLarge",
  "RateLimited",
  "Overloaded",
  "ServerError",
  "Connection",
  "InvalidResponse",
  "Unknown"
])
/** @since 0.1.0 */
export type ProviderErrorReason = typeof ProviderErrorReason.Type

const retryableReasons: ReadonlySet<ProviderErrorReason> = new Set([
  "RateLimited",
  "Overloaded",
  "ServerError",
  "Connection"
])

/**
 * A model provider failed.
 *
 * `reason` classifies it; `status` is the HTTP status when there was one; `retryAfter` (ms) is the
 * server's `retry-after`; `partial` holds what the turn had streamed before it failed.
 * Rate limits, overload (HTTP 529 or the in-stream `overloaded_error`), 5xx and dropped
 * connections are retryable; 400/401/403/404/413 and malformed responses are not.
 * @since 0.1.0
 */
export class ProviderError extends Schema.TaggedError<ProviderError>()("ProviderError", {
  reason: ProviderErrorReason,
  message: Schema.String,
  provider: Schema.String,
  status: Schema.optionalKey(Schema.Number),
  retryAfter: Schema.optionalKey(Schema.Number),
  requestId: Schema.optionalKey(Schema.String),
  partial: Schema.optionalKey(Partial)
}) {
  /** Whether trying the same request again may succeed. */
  get isRetryable(): boolean {
    return retryableReasons.has(this.reason)
  }

  /** The same error carrying `partial`. */
  withPartial(partial: Partial): ProviderError {
    return new ProviderError({
      reason: this.reason,
      message: this.message,
      provider: this.provider,
      ...(this.status !== undefined ? { status: this.status } : {}),
      ...(this.retryAfter !== undefined ? { retryAfter: this.retryAfter } : {}),
      ...(this.requestId !== undefined ? { requestId: this.requestId } : {}),
      partial
    })
  }
}

/**
 * The phases a timeout can end.
 *
 * | phase | measures |
 * | --- | --- |
 * | `request` | from sending the request until the response headers |
 * | `firstEvent` | from the start of a turn until its first event |
 * | `idle` | the gap between two events of a turn |
 * | `tool` | one tool call |
 * | `turn` | one whole model turn (all its attempts) |
 * | `run` | the whole ask |
 * @since 0.1.0
 */
export const TimeoutPhase = Schema.Literals(["request", "firstEvent", "idle", "tool", "turn", "run"])
/** @since 0.1.0 */
export type TimeoutPhase = typeof TimeoutPhase.Type

/**
 * A phase took longer than its limit. Carries the partial output of the turn in progress and the
 * usage spent so far. Request, first-event and idle timeouts are retryable (the next attempt may be
 * served faster); turn and run timeouts are not.
 * @since 0.1.0
 */
export class Timeout extends Schema.TaggedError<Timeout>()("Timeout", {
  phase: TimeoutPhase,
  limitMillis: Schema.Number,
  message: Schema.String,
  partial: Partial
}) {
  /** Whether trying the same turn again may succeed. */
  get isRetryable(): boolean {
    return this.phase === "request" || this.phase === "firstEvent" || this.phase === "idle"
  }

  /** The same error carrying `partial`. */
  withPartial(partial: Partial): Timeout {
    return new Timeout({ phase: this.phase, limitMillis: this.limitMillis, message: this.message, partial })
  }
}

/**
 * The model still asked for tools after the last allowed turn. `partial` has the last turn's text.
 * @since 0.1.0
 */
export class MaxTurnsExceeded extends Schema.TaggedError<MaxTurnsExceeded>()("MaxTurnsExceeded", {
  maxTurns: Schema.Number,
  message: Schema.String,
  partial: Partial
}) {
  /** Never retryable: raise `maxTurns` or narrow the question. */
  get isRetryable(): boolean {
    return false
  }
}

/**
 * Why a value could not be put into a session.
 * @since 0.1.0
 */
export const DataErrorReason = Schema.Literals([
  "InvalidName",
  "UnsupportedValue",
  "FileNotFound",
  "UnsupportedFormat",
  "ParseError",
  "NotFound"
])
/** @since 0.1.0 */
export type DataErrorReason = typeof DataErrorReason.Type

/**
 * A value or file could not be stored in a session. The session is unchanged.
 * @since 0.1.0
 */
export class DataError extends Schema.TaggedError<DataError>()("DataError", {
  reason: DataErrorReason,
  message: Schema.String,
  name: Schema.optionalKey(Schema.String),
  path: Schema.optionalKey(Schema.String)
}) {
  /** Never retryable: the value itself is the problem. */
  get isRetryable(): boolean {
    return false
  }
}

/**
 * An option given to `Agent.make`, or to one ask, is not valid: `option` names it (for example
 * `timeouts.idle`), `message` says what is accepted. Nothing ran and nothing in the session changed.
 * @since 0.1.0
 */
export class InvalidOptions extends Schema.TaggedError<InvalidOptions>()("InvalidOptions", {
  option: Schema.String,
  message: Schema.String
}) {
  /** Never retryable: the option itself is the problem. */
  get isRetryable(): boolean {
    return false
  }
}

// control: budgets and hooks

/**
 * What a budget limits: dollars, input tokens (every prompt token), output tokens, tool compute
 * time (ms) or wall time (ms).
 * @since 0.2.0
 */
export const BudgetLimit = Schema.Literals(["usd", "inputTokens", "outputTokens", "toolCpuMs", "wallTime"])
/** @since 0.2.0 */
export type BudgetLimit = typeof BudgetLimit.Type

/**
 * Whose budget: one ask's, one session's (all its asks) or one agent's (all its sessions and runs).
 * @since 0.2.0
 */
export const BudgetScope = Schema.Literals(["ask", "session", "agent"])
/** @since 0.2.0 */
export type BudgetScope = typeof BudgetScope.Type

/**
 * The run stopped before a model call or a tool call that would go over a budget (or while a tool
 * ran past the tool-compute budget, which interrupted it). `scope` and `limit` say which budget;
 * `allowed` is its value (milliseconds for `wallTime` and `toolCpuMs`), `spent` what that scope had
 * spent, `needed` what the refused model call's input would have added (its counted input tokens,
 * or their price at the input rate), `cost` the run's own cost so far and `partial` its last
 * turn's output and usage.
 * The history stays valid: every `tool_use` has its result.
 * @since 0.2.0
 */
export class BudgetExceeded extends Schema.TaggedError<BudgetExceeded>()("BudgetExceeded", {
  scope: BudgetScope,
  limit: BudgetLimit,
  allowed: Schema.Number,
  spent: Spent,
  needed: Schema.optionalKey(Schema.Number),
  cost: Cost,
  message: Schema.String,
  partial: Partial
}) {
  /** Never retryable: the same request would go over the same budget. Raise the budget. */
  get isRetryable(): boolean {
    return false
  }
}

/**
 * Where a hook runs: before or after a model call, before or after a tool call, after a turn.
 * @since 0.2.0
 */
export const HookPoint = Schema.Literals(["beforeModel", "afterModel", "beforeTool", "afterTool", "afterTurn"])
/** @since 0.2.0 */
export type HookPoint = typeof HookPoint.Type

/**
 * A hook failed (its Effect failed or died). The run ended there; its history stays valid. `tool`
 * names the tool call for the tool hooks; `message` carries the hook's own error.
 * @since 0.2.0
 */
export class HookFailed extends Schema.TaggedError<HookFailed>()("HookFailed", {
  hook: HookPoint,
  tool: Schema.optionalKey(Schema.String),
  message: Schema.String,
  partial: Partial
}) {
  /** Never retryable: fix the hook. */
  get isRetryable(): boolean {
    return false
  }
}

/**
 * A hook stopped the run with `reason` (`Hooks.stop(reason)`). The history stays valid: a tool call
 * that did not run is answered with an error result that says the run was stopped.
 * @since 0.2.0
 */
export class RunStopped extends Schema.TaggedError<RunStopped>()("RunStopped", {
  hook: HookPoint,
  reason: Schema.String,
  message: Schema.String,
  partial: Partial
}) {
  /** Never retryable: a hook decided. */
  get isRetryable(): boolean {
    return false
  }
}

/**
 * `session.resume` found nothing to continue: no tool call waits for approval, and no prompt or
 * tool results wait for a model turn (the last ask ended with the model's answer).
 * @since 0.2.0
 */
export class NothingToResume extends Schema.TaggedError<NothingToResume>()("NothingToResume", {
  message: Schema.String
}) {
  /** Never retryable: ask instead. */
  get isRetryable(): boolean {
    return false
  }
}

/**
 * Any error a run can fail with.
 * @since 0.1.0
 */
export type HarnessError =
  | ProviderError
  | Timeout
  | MaxTurnsExceeded
  | InvalidOptions
  | BudgetExceeded
  | HookFailed
  | RunStopped
  | StoreError

/**
 * Whether an error says it is retryable.
 * @since 0.1.0
 */
export const isRetryable = (error: unknown): boolean =>
  typeof error === "object" &&
  error !== null &&
  "isRetryable" in error &&
  (error as { isRetryable: unknown }).isRetryable === true
