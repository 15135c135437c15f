/**
 * What the agent loop hands to an ask's trace (all plain values, so the loop's own types stay its
 * own) and the shape of the trace itself. Re-exported by `trace.ts`.
 *
 * @internal
 */
import type { Cause, Duration, Effect, Exit } from "effect"
import type * as Message from "../core/Message.js"
import type * as Usage from "../core/Usage.js"
import type * as Provider from "../provider/Provider.js"

/** What an ask is an ask of. */
export interface AskInfo {
  readonly provider: { readonly name: string; readonly model: string; readonly baseURL?: string | undefined }
  readonly agentName?: string | undefined
  /** The session's id, when it has one. */
  readonly conversationId?: string | undefined
}

/** A model turn attempt as far as it got (the loop's `TurnAccumulator` is one). */
export interface TurnInfo {
  readonly id?: string | undefined
  readonly model?: string | undefined
  readonly stopReason?: string | null | undefined
  readonly usage: Usage.Counts
  /** The provider that streamed it, when a fallback chain named one. */
  readonly answeredBy?: string | undefined
}

/** A tool call of the model. */
export interface ToolCall {
  readonly id: string
  readonly name: string
  readonly input?: unknown
}

/** What a tool call gave back; `errorType` names an error result's kind when the caller knows it. */
export interface ToolOutcome {
  readonly content: string
  readonly isError: boolean
  readonly errorType?: string | undefined
}

/**
 * What the loop reports of one ask. Attempts are sequential: `attemptStarted`, then
 * `firstChunk` (once), then `attemptCompleted` or `attemptFailed`; `ended` closes whatever is
 * still open.
 */
export interface AskTrace {
  /** Whether anything is recorded (false for {@link disabled}). */
  readonly recording: boolean
  /** A model call attempt starts with `request`. */
  readonly attemptStarted: (request: Provider.Request, attempt: number) => void
  /** The attempt's first chunk arrived. */
  readonly firstChunk: () => void
  /** The attempt completed `turn`, whose reply is `content`. */
  readonly attemptCompleted: (turn: TurnInfo, content: ReadonlyArray<Message.ContentBlock>) => void
  /** The attempt failed with `cause`, having got as far as `turn`. */
  readonly attemptFailed: (turn: TurnInfo, cause: Cause.Cause<unknown>) => void
  /** A failed attempt is retried: attempt `attempt` starts after `delay`. */
  readonly retrying: (attempt: number, delay: Duration.Duration, error: unknown) => void
  /** `run` (the tool call `call`) inside its `execute_tool` span. */
  readonly tool: <O extends ToolOutcome>(call: ToolCall, run: Effect.Effect<O>) => Effect.Effect<O>
  /** The ask ended with `exit`; `inProgress` is the attempt that had not ended, if any. */
  readonly ended: (exit: Exit.Exit<unknown, unknown>, inProgress?: TurnInfo | undefined) => void
}
