/**
 * Running one hook: with the agent's services, its failure or defect as `HookFailed`, its `Stop`
 * decision as `RunStopped`, an interruption left as it is.
 *
 * @internal
 */
import { Cause, type Context, Effect, Option } from "effect"
import { HookFailed, type HookPoint, type Partial, RunStopped } from "../core/HarnessError.js"

/** A hook's error as text: `Tag: message`, or its JSON. */
const describe = (error: unknown): string => {
  if (typeof error === "string") return error
  if (typeof error === "object" && error !== null && "message" in error && typeof error.message === "string") {
    const tag = "_tag" in error && typeof error._tag === "string" ? `${error._tag}: ` : ""
    return `${tag}${error.message}`
  }
  try {
    return JSON.stringify(error) ?? String(error)
  } catch {
    return String(error)
  }
}

/**
 * Runs the hook `run` at `point` (for the call of `tool`) with `context`; `partial` is the ask's
 * output for the error.
 * @internal
 */
export const runHook = <A>(
  point: HookPoint,
  tool: string | undefined,
  run: Effect.Effect<A, unknown, unknown>,
  // biome-ignore lint/suspicious/noExplicitAny: the captured services of the hooks
  context: Context.Context<any>,
  partial: () => Partial
): Effect.Effect<A, HookFailed | RunStopped> =>
  Effect.matchCauseEffect(Effect.provideContext(run as Effect.Effect<A, unknown>, context), {
    onFailure: (cause) => {
      if (Cause.hasInterruptsOnly(cause)) return Effect.failCause(cause as Cause.Cause<never>)
      const failure = Cause.findErrorOption(cause)
      const error = Option.isSome(failure) ? failure.value : Cause.squash(cause)
      const where = tool === undefined ? `The ${point} hook` : `The ${point} hook (tool "${tool}")`
      return Effect.fail(
        new HookFailed({
          hook: point,
          ...(tool === undefined ? {} : { tool }),
          message: `${where} ${Option.isSome(failure) ? "failed" : "died"}: ${describe(error)}. The run ended; the history is kept.`,
          partial: partial()
        })
      )
    },
    onSuccess: (decision) => {
      const stop = decision as { readonly _tag?: string; readonly reason?: string } | undefined
      if (stop?._tag !== "Stop") return Effect.succeed(decision)
      return Effect.fail(
        new RunStopped({
          hook: point,
          reason: String(stop.reason),
          message: `A ${point} hook stopped the run: ${String(stop.reason)}`,
          partial: partial()
        })
      )
    }
  })
