/**
 * The telemetry of one ask, as the agent loop reports it: an `invoke_agent` span for the ask, a
 * `chat {model}` span per model call attempt and an `execute_tool {name}` span per tool call, all
 * with the GenAI semantic conventions' attributes, and the GenAI metrics.
 *
 * The loop calls a handful of methods at the points where something starts or ends (never per
 * event): {@link AskTrace}. Every input is plain (the request, the turn, the tool call and its
 * outcome, the error), so the loop's own types stay its own. When nothing would record them (no
 * tracing backend is installed, see `Telemetry.Enabled`) the ask gets {@link disabled}, whose
 * methods do nothing: the cost is the check made when the ask starts.
 *
 * Spans are made on the tracer captured when the ask starts (its parent is the caller's current
 * span), with times from the ask's `Clock`, so `TestClock` drives their durations. A failure is
 * recorded as the conventions ask: status error and `error.type` (see `Attributes.errorType`); a
 * timeout is a failure with its phase, not an interruption.
 *
 * @internal
 */
import { Context, Effect, Tracer } from "effect"
import * as References from "effect/References"
import { Enabled } from "./names.js"
import { Recorder } from "./recorder.js"
import type { AskInfo, AskTrace } from "./traceInputs.js"

export { errorType } from "./traceErrors.js"
export type { AskInfo, AskTrace, ToolCall, ToolOutcome, TurnInfo } from "./traceInputs.js"

/** The trace of an ask that records nothing. */
export const disabled: AskTrace = {
  recording: false,
  attemptStarted: () => {},
  firstChunk: () => {},
  attemptCompleted: () => {},
  attemptFailed: () => {},
  retrying: () => {},
  tool: (_, run) => run,
  ended: () => {}
}

/**
 * The trace of an ask started in `context` (the caller's: its tracer, parent span, clock, metric
 * registry and settings): {@link disabled} unless something would record it.
 */
export const make = (context: Context.Context<never>, info: AskInfo): AskTrace => {
  const enabled = Context.get(context, Enabled)
  if (enabled === false) return disabled
  const tracing = Context.get(context, References.TracerEnabled)
  const tracer = Context.get(context, Tracer.Tracer)
  if (enabled === "auto" && (!tracing || tracer === Tracer.nativeTracer)) return disabled
  return new Recorder(context, tracing ? tracer : Tracer.nativeTracer, info)
}

/** {@link make} in the current context. */
export const start = (info: AskInfo): Effect.Effect<AskTrace> =>
  Effect.contextWith((context) => Effect.succeed(make(context, info)))
