/**
 * How an ask ended, as its `ask_end` event says it.
 * @internal
 */
import { Cause, Exit, Option } from "effect"
import { HarnessError } from "../index.js"
import type * as ServerEvent from "./ServerEvent.js"

/**
 * What an ask's exit says about it: its status and, when it failed, the error as the client sees
 * it. A defect is reported as an internal error whose details stay in the server's log.
 * @internal
 */
export const askOutcome = (
  exit: Exit.Exit<unknown, unknown>
): { readonly status: ServerEvent.AskStatus; readonly error?: ServerEvent.AskError } => {
  if (Exit.isSuccess(exit)) return { status: "completed" }
  const failure = Cause.findErrorOption(exit.cause)
  if (Option.isSome(failure)) {
    const error = failure.value as HarnessError.HarnessError
    const tagged = error as { readonly reason?: string; readonly phase?: string }
    return {
      status: error._tag === "MaxTurnsExceeded" ? "max_turns" : "failed",
      error: {
        _tag: error._tag,
        message: error.message,
        retryable: HarnessError.isRetryable(error),
        ...(tagged.reason !== undefined ? { reason: tagged.reason } : {}),
        ...(tagged.phase !== undefined ? { phase: tagged.phase } : {})
      }
    }
  }
  if (Cause.hasInterruptsOnly(exit.cause)) return { status: "interrupted" }
  return {
    status: "failed",
    error: { _tag: "InternalError", message: "The server failed while running the ask.", retryable: false }
  }
}
