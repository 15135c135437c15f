/**
 * How an ask's trace names and finds the error a span ended with (`error.type`).
 *
 * @internal
 */
import { Cause, Option, Pull } from "effect"
import { ProviderError } from "../core/HarnessError.js"

/**
 * The `error.type` of an error: a `ProviderError`'s reason, otherwise its tag or name, `_OTHER`
 * when it has neither.
 */
export const errorType = (error: unknown): string => {
  if (error instanceof ProviderError) return error.reason
  if (typeof error === "object" && error !== null) {
    const tag = (error as { readonly _tag?: unknown })._tag
    if (typeof tag === "string") return tag
    if (error instanceof Error && error.name !== "Error") return error.name
  }
  return "_OTHER"
}

/** The error a cause failed with (a defect counts), or undefined when it was only interrupted or is the stream's end. */
export const errorOf = (cause: Cause.Cause<unknown>): { readonly error: unknown } | undefined => {
  if (Cause.hasInterruptsOnly(cause) || Pull.isDoneCause(cause)) return undefined
  const failure = Cause.findErrorOption(cause)
  return { error: Option.isSome(failure) ? failure.value : Cause.squash(cause) }
}

/** An error result of a tool, as the exception its span ends with. */
export class ToolErrorResult extends Error {
  constructor(type: string) {
    super(`The tool answered with an error result (${type}).`)
    this.name = type
  }
}
