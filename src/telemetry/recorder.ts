/**
 * The recording trace of one ask: its `invoke_agent` span, a `chat` span per model call attempt
 * and an `execute_tool` span per tool call, with their attributes and metrics. `trace.ts` makes it
 * when something would record it.
 *
 * @internal
 */
import { Cause, Clock, Context, Duration, Effect, Exit, LogLevel, Option, Pull, Tracer } from "effect"
import * as References from "effect/References"
import { Timeout } from "../core/HarnessError.js"
import type * as Message from "../core/Message.js"
import type * as Provider from "../provider/Provider.js"
import * as Content from "./content.js"
import { Attributes as A, CaptureContent, Events, type HistogramSpec, specs } from "./names.js"
import { errorOf, errorType, ToolErrorResult } from "./traceErrors.js"
import type { AskInfo, AskTrace, ToolCall, ToolOutcome, TurnInfo } from "./traceInputs.js"
import { series } from "./traceSeries.js"

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

export class Recorder implements AskTrace {
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
