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
 * The series `key` of `spec` (its attributes made by `attributes()` the first time), made once:
 * effect keys a metric's series by its attributes, sorted and JSON-encoded, and caches that key
 * per metric object, so one object per series keeps the work out of every update
 * (`Metric.withAttributes` on a shared metric redid it at each of a turn's five updates).
 */
const series = (
  spec: HistogramSpec,
  key: string,
  attributes: () => Record<string, string>
): Metric.Metric<number, unknown> => {
  let made = seriesMade.get(key)
  if (made === undefined) {
    made = histogram(spec, attributes())
    if (seriesMade.size < MAX_SERIES) seriesMade.set(key, made)
  }
  return made
}

// the recorder

interface Attempt {
  readonly span: Tracer.Span
  readonly start: bigint
  firstChunk: bigint | undefined
}

/** The attributes of a `chat` span's metrics for one request model, and their series key. */
interface ChatSeries {
  readonly model: string
  readonly attributes: Readonly<Record<string, string>>
  readonly key: string
}

const seconds = (from: bigint, to: bigint): number => Number(to - from) / 1e9

/** `server.address` and `server.port` of a base URL (the port the scheme implies when none is given). */
const serverOf = (baseURL: string | undefined): { readonly address: string; readonly port: number } | undefined => {
  if (baseURL === undefined || !URL.canParse(baseURL)) return undefined
  const url = new URL(baseURL)
  return {
    address: url.hostname,
    port: url.port !== "" ? Number(url.port) : url.protocol === "https:" ? 443 : 80
  }
}

/** Sets `key` on `span` when `value` is defined. */
const set = (span: Tracer.Span, key: string, value: unknown): void => {
  if (value !== undefined) span.attribute(key, value)
}

class Recorder implements AskTrace {
  readonly recording = true
  private readonly clock: Clock.Clock
  private readonly capture: boolean
  private readonly sampled: boolean
  private readonly envAnnotations: Readonly<Record<string, unknown>> | undefined
  private readonly server: { readonly address: string; readonly port: number } | undefined
  private readonly agent: Tracer.Span
  private readonly underAgent: Option.Option<Tracer.AnySpan>
  private readonly start: bigint
  private attempt: Attempt | undefined = undefined
  private chat: ChatSeries | undefined = undefined
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
    const annotations = Context.get(context, References.TracerSpanAnnotations)
    this.envAnnotations = Object.keys(annotations).length === 0 ? undefined : annotations
    const parent = Context.getOption(context, Tracer.ParentSpan)
    this.sampled =
      !(Option.isSome(parent) && parent.value.sampled === false) &&
      !LogLevel.isGreaterThan(
        Context.get(context, Tracer.MinimumTraceLevel),
        Context.get(context, Tracer.CurrentTraceLevel)
      )
    this.server = serverOf(info.provider.baseURL)
    this.start = this.now()
    const agent = this.span(
      info.agentName === undefined ? "invoke_agent" : `invoke_agent ${info.agentName}`,
      "internal",
      parent
    )
    agent.attribute(A.operationName, "invoke_agent")
    agent.attribute(A.providerName, info.provider.name)
    set(agent, A.agentName, info.agentName)
    set(agent, A.conversationId, info.conversationId)
    agent.attribute(A.requestModel, info.provider.model)
    this.serverOn(agent)
    this.agent = agent
    this.underAgent = Option.some(agent)
  }

  private now(): bigint {
    return this.clock.currentTimeNanosUnsafe()
  }

  private span(name: string, kind: Tracer.SpanKind, parent: Option.Option<Tracer.AnySpan>): Tracer.Span {
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
    const annotations = this.envAnnotations
    if (annotations !== undefined) for (const key in annotations) span.attribute(key, annotations[key])
    return span
  }

  private serverOn(span: Tracer.Span): void {
    if (this.server === undefined) return
    span.attribute(A.serverAddress, this.server.address)
    span.attribute(A.serverPort, this.server.port)
  }

  /** The chat metrics' attributes for `model`, made when the model changes (once per ask, usually). */
  private chatSeries(model: string): ChatSeries {
    if (this.chat !== undefined && this.chat.model === model) return this.chat
    const attributes: Record<string, string> = {
      [A.operationName]: "chat",
      [A.providerName]: this.info.provider.name,
      [A.requestModel]: model
    }
    if (this.server !== undefined) {
      attributes[A.serverAddress] = this.server.address
      attributes[A.serverPort] = String(this.server.port)
    }
    this.chat = { model, attributes, key: `${this.info.provider.name}\u0000${model}\u0000${this.server?.address}` }
    return this.chat
  }

  /** Records `value` in the chat metric `spec`, in the series of its attributes and these. */
  private recordChat(
    spec: HistogramSpec,
    value: number,
    chat: ChatSeries,
    provider: string | undefined,
    responseModel: string | undefined,
    error: string | undefined,
    tokenType: string | undefined
  ): void {
    const key = `${spec.name}\u0000${chat.key}\u0000${provider}\u0000${responseModel}\u0000${error}\u0000${tokenType}`
    series(spec, key, () => {
      const attributes = { ...chat.attributes }
      if (provider !== undefined) attributes[A.providerName] = provider
      if (responseModel !== undefined) attributes[A.responseModel] = responseModel
      if (error !== undefined) attributes[A.errorType] = error
      if (tokenType !== undefined) attributes[A.tokenType] = tokenType
      return attributes
    }).updateUnsafe(value, this.context)
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
    const span = this.span(`chat ${model}`, "client", this.underAgent)
    span.attribute(A.operationName, "chat")
    span.attribute(A.providerName, this.info.provider.name)
    span.attribute(A.requestModel, model)
    this.serverOn(span)
    set(span, A.requestMaxTokens, request.maxTokens)
    set(span, A.requestTemperature, request.temperature)
    set(span, A.requestTopP, request.topP)
    set(span, A.requestTopK, request.topK)
    set(span, A.requestStopSequences, request.stopSequences)
    span.attribute(A.requestStream, true)
    span.attribute(A.attempt, attempt)
    if (this.capture) {
      span.attribute(A.inputMessages, Content.inputMessages(request.messages))
      if (request.system !== undefined && request.system.length > 0) {
        span.attribute(A.systemInstructions, Content.systemInstructions(request.system))
      }
      if (request.tools.length > 0) span.attribute(A.toolDefinitions, Content.toolDefinitions(request.tools))
    }
    this.chatSeries(model)
    this.attempt = { span, start: this.now(), firstChunk: undefined }
  }

  firstChunk(): void {
    const attempt = this.attempt
    if (attempt === undefined || attempt.firstChunk !== undefined) return
    attempt.firstChunk = this.now()
    const ttfc = seconds(attempt.start, attempt.firstChunk)
    attempt.span.attribute(A.responseTimeToFirstChunk, ttfc)
    this.recordChat(specs.timeToFirstChunk, ttfc, this.chat!, undefined, undefined, undefined, undefined)
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
    const chat = this.chat!
    const end = this.now()
    // a fallback chain's turn: the provider that answered it, not the chain
    const provider =
      turn?.answeredBy !== undefined && turn.answeredBy !== this.info.provider.name ? turn.answeredBy : undefined
    const responseModel = turn?.model
    if (provider !== undefined) span.attribute(A.providerName, provider)
    if (turn !== undefined) {
      set(span, A.responseId, turn.id)
      set(span, A.responseModel, responseModel)
      const finish = turn.stopReason == null || cause !== undefined ? undefined : Content.finishReason(turn.stopReason)
      if (finish !== undefined) {
        span.attribute(A.responseFinishReasons, [finish])
        if (this.capture && content !== undefined) {
          span.attribute(A.outputMessages, Content.outputMessages(content, finish))
        }
      }
      this.usage(span, turn, chat, provider)
    }
    const failure = cause === undefined ? undefined : errorOf(cause)
    const error = failure === undefined ? undefined : this.failed(span, failure.error)
    const duration = seconds(attempt.start, end)
    this.recordChat(specs.operationDuration, duration, chat, provider, responseModel, error, undefined)
    span.end(end, cause === undefined ? Exit.void : Exit.failCause(cause))
  }

  /** The turn's token counts on its span, in the ask's totals and in the token usage metric. */
  private usage(span: Tracer.Span, turn: TurnInfo, chat: ChatSeries, provider: string | undefined): void {
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
    this.recordChat(specs.tokenUsage, input, chat, provider, turn.model, undefined, "input")
    this.recordChat(specs.tokenUsage, outputTokens, chat, provider, turn.model, undefined, "output")
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
      const span = this.span(`execute_tool ${call.name}`, "internal", this.underAgent)
      span.attribute(A.operationName, "execute_tool")
      span.attribute(A.toolName, call.name)
      span.attribute(A.toolCallId, call.id)
      span.attribute(A.toolType, "function")
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
    let error: string | undefined
    let spanExit: Exit.Exit<unknown, unknown> = exit
    if (Exit.isSuccess(exit)) {
      const outcome = exit.value
      if (this.capture) span.attribute(A.toolCallResult, outcome.content)
      if (outcome.isError) {
        error = outcome.errorType ?? "ToolError"
        span.attribute(A.errorType, error)
        spanExit = Exit.fail(new ToolErrorResult(error))
      }
    } else {
      const failure = errorOf(exit.cause)
      if (failure !== undefined) error = this.failed(span, failure.error)
    }
    const key = `${specs.toolDuration.name}\u0000${call.name}\u0000${error}`
    series(specs.toolDuration, key, () => {
      const attributes: Record<string, string> = { [A.operationName]: "execute_tool", [A.toolName]: call.name }
      if (error !== undefined) attributes[A.errorType] = error
      return attributes
    }).updateUnsafe(seconds(start, end), this.context)
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
    const failure = cause === undefined ? undefined : errorOf(cause)
    const error = failure === undefined ? undefined : this.failed(span, failure.error)
    const { provider, agentName } = this.info
    const key = `${specs.agentDuration.name}\u0000${provider.name}\u0000${provider.model}\u0000${agentName}\u0000${error}`
    series(specs.agentDuration, key, () => {
      const attributes: Record<string, string> = {
        [A.operationName]: "invoke_agent",
        [A.providerName]: provider.name,
        [A.requestModel]: provider.model
      }
      if (agentName !== undefined) attributes[A.agentName] = agentName
      if (error !== undefined) attributes[A.errorType] = error
      return attributes
    }).updateUnsafe(seconds(this.start, end), this.context)
    span.end(end, cause === undefined ? Exit.void : Exit.failCause(cause))
  }
}
