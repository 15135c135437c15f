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
import { Cause, Clock, Context, Duration, Effect, Exit, LogLevel, type Metric, Option, Pull, Tracer } from "effect"
import * as References from "effect/References"
import { ProviderError, Timeout } from "../core/HarnessError.js"
import type * as Message from "../core/Message.js"
import type * as Usage from "../core/Usage.js"
import type * as Provider from "../provider/Provider.js"
import * as Content from "./content.js"
import { Attributes as A, CaptureContent, Enabled, Events, type HistogramSpec, histogram, specs } from "./names.js"

// inputs

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

// errors

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
const errorOf = (cause: Cause.Cause<unknown>): { readonly error: unknown } | undefined => {
  if (Cause.hasInterruptsOnly(cause) || Pull.isDoneCause(cause)) return undefined
  const failure = Cause.findErrorOption(cause)
  return { error: Option.isSome(failure) ? failure.value : Cause.squash(cause) }
}

/** An error result of a tool, as the exception its span ends with. */
class ToolErrorResult extends Error {
  constructor(type: string) {
    super(`The tool answered with an error result (${type}).`)
    this.name = type
  }
}

// metric series

/** At most this many series are kept made (the attributes are low-cardinality; this bounds a misuse). */
const MAX_SERIES = 4096
const seriesMade = new Map<string, Metric.Metric<number, unknown>>()

/**
 * The series of `spec` with `attributes`, made once: effect keys a metric's series by its
 * attributes, sorted and JSON-encoded, and caches the key per metric object, so one object per
 * series keeps that work out of every update (`Metric.withAttributes` on a shared metric redid it
 * at each of a turn's five updates).
 */
const series = (spec: HistogramSpec, attributes: Readonly<Record<string, string>>): Metric.Metric<number, unknown> => {
  let key = spec.name
  for (const name in attributes) key += `\u0000${name}\u0000${attributes[name]}`
  let made = seriesMade.get(key)
  if (made === undefined) {
    made = histogram(spec, attributes)
    if (seriesMade.size < MAX_SERIES) seriesMade.set(key, made)
  }
  return made
}

// the recorder

type Attrs = Record<string, unknown>

interface Attempt {
  readonly span: Tracer.Span
  readonly start: bigint
  readonly metricAttributes: Record<string, string>
  firstChunk: bigint | undefined
}

const seconds = (from: bigint, to: bigint): number => Number(to - from) / 1e9

/** `server.address` and `server.port` of a base URL (the port the scheme implies when none is given). */
const serverOf = (baseURL: string | undefined): Attrs => {
  if (baseURL === undefined) return {}
  try {
    const url = new URL(baseURL)
    const port = url.port !== "" ? Number(url.port) : url.protocol === "https:" ? 443 : 80
    return { [A.serverAddress]: url.hostname, [A.serverPort]: port }
  } catch {
    return {}
  }
}

/** Copies the defined attributes onto `span`. */
const annotate = (span: Tracer.Span, attributes: Attrs): void => {
  for (const key in attributes) {
    const value = attributes[key]
    if (value !== undefined) span.attribute(key, value)
  }
}

/** The defined attributes as strings: a metric series' attributes (`server.port` 443 is "443"). */
const defined = (attributes: Attrs): Record<string, string> => {
  const out: Record<string, string> = {}
  for (const key in attributes) if (attributes[key] !== undefined) out[key] = String(attributes[key])
  return out
}

class Recorder implements AskTrace {
  readonly recording = true
  private readonly clock: Clock.Clock
  private readonly capture: boolean
  private readonly sampled: boolean
  private readonly envAnnotations: Readonly<Record<string, unknown>>
  private readonly server: Attrs
  private readonly agent: Tracer.Span
  private readonly start: bigint
  private attempt: Attempt | undefined = undefined
  private inputTokens = 0
  private outputTokens = 0
  private cacheReadTokens = 0
  private cacheWriteTokens = 0

  constructor(
    private readonly context: Context.Context<never>,
    private readonly tracer: Tracer.Tracer,
    private readonly info: AskInfo
  ) {
    this.clock = Context.get(context, Clock.Clock)
    this.capture = Context.get(context, CaptureContent)
    this.envAnnotations = Context.get(context, References.TracerSpanAnnotations)
    const parent = Context.getOption(context, Tracer.ParentSpan)
    this.sampled =
      !(Option.isSome(parent) && parent.value.sampled === false) &&
      !LogLevel.isGreaterThan(
        Context.get(context, Tracer.MinimumTraceLevel),
        Context.get(context, Tracer.CurrentTraceLevel)
      )
    this.server = serverOf(info.provider.baseURL)
    this.start = this.now()
    this.agent = this.span(
      info.agentName === undefined ? "invoke_agent" : `invoke_agent ${info.agentName}`,
      "internal",
      parent,
      {
        [A.operationName]: "invoke_agent",
        [A.providerName]: info.provider.name,
        [A.agentName]: info.agentName,
        [A.conversationId]: info.conversationId,
        [A.requestModel]: info.provider.model,
        ...this.server
      }
    )
  }

  private now(): bigint {
    return this.clock.currentTimeNanosUnsafe()
  }

  private span(name: string, kind: Tracer.SpanKind, parent: Option.Option<Tracer.AnySpan>, attributes: Attrs) {
    const span = this.tracer.span({
      name,
      parent,
      annotations: Context.empty(),
      links: [],
      startTime: this.now(),
      kind,
      root: Option.isNone(parent),
      sampled: this.sampled
    })
    annotate(span, this.envAnnotations)
    annotate(span, attributes)
    return span
  }

  private record(spec: HistogramSpec, value: number, attributes: Record<string, string>): void {
    series(spec, attributes).updateUnsafe(value, this.context)
  }

  /**
   * `error.type` on `span` (its status follows from the exit it ends with); a `Timeout` is also an
   * event, on the span whose limit passed: the run's on the `invoke_agent` span only.
   */
  private failed(span: Tracer.Span, error: unknown): string {
    const type = errorType(error)
    span.attribute(A.errorType, type)
    if (error instanceof Timeout && (error.phase !== "run" || span === this.agent)) {
      span.event(Events.timeout, this.now(), {
        [A.timeoutPhase]: error.phase,
        [A.timeoutLimitMs]: error.limitMillis
      })
    }
    return type
  }

  attemptStarted(request: Provider.Request, attempt: number): void {
    if (this.attempt !== undefined) this.closeAttempt(undefined, Cause.interrupt(), undefined)
    const model = request.model ?? this.info.provider.model
    const common = {
      [A.operationName]: "chat",
      [A.providerName]: this.info.provider.name,
      [A.requestModel]: model,
      ...this.server
    }
    const metricAttributes = defined(common)
    const span = this.span(`chat ${model}`, "client", Option.some(this.agent), {
      ...common,
      [A.requestMaxTokens]: request.maxTokens,
      [A.requestTemperature]: request.temperature,
      [A.requestTopP]: request.topP,
      [A.requestTopK]: request.topK,
      [A.requestStopSequences]: request.stopSequences,
      [A.requestStream]: true,
      [A.attempt]: attempt
    })
    if (this.capture) {
      span.attribute(A.inputMessages, Content.inputMessages(request.messages))
      if (request.system !== undefined && request.system.length > 0) {
        span.attribute(A.systemInstructions, Content.systemInstructions(request.system))
      }
      if (request.tools.length > 0) span.attribute(A.toolDefinitions, Content.toolDefinitions(request.tools))
    }
    this.attempt = { span, start: this.now(), metricAttributes, firstChunk: undefined }
  }

  firstChunk(): void {
    const attempt = this.attempt
    if (attempt === undefined || attempt.firstChunk !== undefined) return
    attempt.firstChunk = this.now()
    const ttfc = seconds(attempt.start, attempt.firstChunk)
    attempt.span.attribute(A.responseTimeToFirstChunk, ttfc)
    this.record(specs.timeToFirstChunk, ttfc, attempt.metricAttributes)
  }

  attemptCompleted(turn: TurnInfo, content: ReadonlyArray<Message.ContentBlock>): void {
    this.closeAttempt(turn, undefined, content)
  }

  attemptFailed(turn: TurnInfo, cause: Cause.Cause<unknown>): void {
    this.closeAttempt(turn, cause, undefined)
  }

  private closeAttempt(
    turn: TurnInfo | undefined,
    cause: Cause.Cause<unknown> | undefined,
    content: ReadonlyArray<Message.ContentBlock> | undefined
  ): void {
    const attempt = this.attempt
    if (attempt === undefined) return
    this.attempt = undefined
    const { span } = attempt
    const end = this.now()
    const attributes: Record<string, string> = { ...attempt.metricAttributes }
    if (turn !== undefined) {
      // a fallback chain's turn: the provider that answered it, not the chain
      if (turn.answeredBy !== undefined && turn.answeredBy !== this.info.provider.name) {
        attributes[A.providerName] = turn.answeredBy
        span.attribute(A.providerName, turn.answeredBy)
      }
      if (turn.model !== undefined) attributes[A.responseModel] = turn.model
      this.usage(span, turn, attributes)
      const finish = turn.stopReason == null || cause !== undefined ? undefined : Content.finishReason(turn.stopReason)
      annotate(span, {
        [A.responseId]: turn.id,
        [A.responseModel]: turn.model,
        [A.responseFinishReasons]: finish === undefined ? undefined : [finish]
      })
      if (this.capture && content !== undefined && finish !== undefined) {
        span.attribute(A.outputMessages, Content.outputMessages(content, finish))
      }
    }
    const failure = cause === undefined ? undefined : errorOf(cause)
    if (failure !== undefined) attributes[A.errorType] = this.failed(span, failure.error)
    this.record(specs.operationDuration, seconds(attempt.start, end), attributes)
    span.end(end, cause === undefined ? Exit.void : Exit.failCause(cause))
  }

  /** The turn's token counts on its span, in the ask's totals and in the token usage metric. */
  private usage(span: Tracer.Span, turn: TurnInfo, attributes: Record<string, string>): void {
    const { inputTokens, outputTokens, cacheReadTokens, cacheWriteTokens } = turn.usage
    const input = inputTokens + cacheReadTokens + cacheWriteTokens
    if (input === 0 && outputTokens === 0) return
    this.inputTokens += inputTokens
    this.outputTokens += outputTokens
    this.cacheReadTokens += cacheReadTokens
    this.cacheWriteTokens += cacheWriteTokens
    span.attribute(A.usageInputTokens, input)
    span.attribute(A.usageOutputTokens, outputTokens)
    span.attribute(A.usageCacheReadInputTokens, cacheReadTokens)
    span.attribute(A.usageCacheCreationInputTokens, cacheWriteTokens)
    this.record(specs.tokenUsage, input, { ...attributes, [A.tokenType]: "input" })
    this.record(specs.tokenUsage, outputTokens, { ...attributes, [A.tokenType]: "output" })
  }

  retrying(attempt: number, delay: Duration.Duration, error: unknown): void {
    this.agent.event(Events.retry, this.now(), {
      [A.retryAttempt]: attempt,
      [A.retryDelayMs]: Math.round(Duration.toMillis(delay)),
      [A.errorType]: errorType(error)
    })
  }

  tool<O extends ToolOutcome>(call: ToolCall, run: Effect.Effect<O>): Effect.Effect<O> {
    return Effect.suspend(() => {
      const start = this.now()
      const span = this.span(`execute_tool ${call.name}`, "internal", Option.some(this.agent), {
        [A.operationName]: "execute_tool",
        [A.toolName]: call.name,
        [A.toolCallId]: call.id,
        [A.toolType]: "function"
      })
      if (this.capture) span.attribute(A.toolCallArguments, Content.toolArguments(call.input))
      // the span is the parent of the tool's own spans (provided directly: `withParentSpan`
      // captures a stack trace per call)
      return Effect.onExit(Effect.provideService(run, Tracer.ParentSpan, span), (exit) =>
        Effect.sync(() => this.toolEnded(span, start, call, exit))
      )
    })
  }

  private toolEnded(span: Tracer.Span, start: bigint, call: ToolCall, exit: Exit.Exit<ToolOutcome>): void {
    const end = this.now()
    const attributes: Record<string, string> = { [A.operationName]: "execute_tool", [A.toolName]: call.name }
    let spanExit: Exit.Exit<unknown, unknown> = exit
    if (Exit.isSuccess(exit)) {
      const outcome = exit.value
      if (this.capture) span.attribute(A.toolCallResult, outcome.content)
      if (outcome.isError) {
        const type = outcome.errorType ?? "ToolError"
        span.attribute(A.errorType, type)
        attributes[A.errorType] = type
        spanExit = Exit.fail(new ToolErrorResult(type))
      }
    } else {
      const failure = errorOf(exit.cause)
      if (failure !== undefined) attributes[A.errorType] = this.failed(span, failure.error)
    }
    this.record(specs.toolDuration, seconds(start, end), attributes)
    span.end(end, spanExit)
  }

  ended(exit: Exit.Exit<unknown, unknown>, inProgress?: TurnInfo | undefined): void {
    const cause = Exit.isFailure(exit) && !Pull.isDoneCause(exit.cause) ? exit.cause : undefined
    if (this.attempt !== undefined) this.closeAttempt(inProgress, cause ?? Cause.interrupt(), undefined)
    const end = this.now()
    const span = this.agent
    span.attribute(A.usageInputTokens, this.inputTokens + this.cacheReadTokens + this.cacheWriteTokens)
    span.attribute(A.usageOutputTokens, this.outputTokens)
    span.attribute(A.usageCacheReadInputTokens, this.cacheReadTokens)
    span.attribute(A.usageCacheCreationInputTokens, this.cacheWriteTokens)
    const attributes = defined({
      [A.operationName]: "invoke_agent",
      [A.providerName]: this.info.provider.name,
      [A.agentName]: this.info.agentName,
      [A.requestModel]: this.info.provider.model
    })
    const failure = cause === undefined ? undefined : errorOf(cause)
    if (failure !== undefined) attributes[A.errorType] = this.failed(span, failure.error)
    this.record(specs.agentDuration, seconds(this.start, end), attributes)
    span.end(end, cause === undefined ? Exit.void : Exit.failCause(cause))
  }
}
