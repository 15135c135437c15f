/**
 * The agent loop of one ask, as a pull-based stream: model turn (with timeouts and retries),
 * tools for every `tool_use` (a `tool_result` event after each), next turn, until the model ends
 * its turn.
 *
 * History stays valid whatever happens: the user message and every completed turn are committed
 * as they complete; when the ask ends early (failure, timeout, interruption, a consumer that stops
 * pulling) `repair` answers every `tool_use` that has no result with a synthetic error result and
 * keeps or drops the partial assistant turn by policy.
 */
import {
  Cause,
  Clock,
  type Context,
  Duration,
  Effect,
  Exit,
  Option,
  Pull,
  Ref,
  Schedule,
  type Scope,
  Stream
} from "effect"
import type * as Data from "../Data.js"
import type { HarnessError } from "../HarnessError.js"
import { isRetryable, type Partial, ProviderError, Timeout, type TimeoutPhase } from "../HarnessError.js"
import * as Message from "../Message.js"
import type { NormalizedResponse } from "../NormalizedResponse.js"
import type * as Provider from "../Provider.js"
import { RunResult } from "../RunResult.js"
import type * as Session from "../Session.js"
import type * as StreamEvent from "../StreamEvent.js"
import * as Tool from "../Tool.js"
import * as Usage from "../Usage.js"
import { withPullDeadlines } from "./pullDeadline.js"
import { TurnAccumulator } from "./turn.js"

// configuration

/** The public per-phase limits (`Session.Timeouts`), resolved to Durations: one list of phases. */
export type Timeouts = {
  readonly [Phase in keyof Session.Timeouts]?: Duration.Duration | undefined
}

export interface Config {
  readonly provider: Provider.Service
  readonly system: string | undefined
  readonly tools: ReadonlyArray<Tool.Any>
  // biome-ignore lint/suspicious/noExplicitAny: the captured services of every tool handler
  readonly context: Context.Context<any>
  readonly maxTurns: number
  readonly maxTokens: number | undefined
  readonly cache: boolean
  readonly timeouts: Timeouts
  readonly retry: Schedule.Schedule<unknown, unknown> | undefined
  readonly maxRetryAfter: Duration.Duration
  readonly partialTurn: "keep" | "discard"
  readonly toolConcurrency: number
}

export interface AskOptions {
  /** Run before the ask starts, in its scope (a session's semaphore permit, released at the end). */
  readonly acquire?: Effect.Effect<void, never, Scope.Scope> | undefined
  /** Fail the stream with this after the last event when the run hits maxTurns. */
  readonly onMaxTurns?: ((result: RunResult) => HarnessError) | undefined
}

export interface State {
  readonly history: Ref.Ref<Message.History>
  readonly usage: Ref.Ref<Usage.Usage>
  readonly visible: Ref.Ref<ReadonlySet<string>>
  readonly data: Data.Store
}

export const LAST_TURN_REMINDER =
  "[harness] This is your last turn: no further tool results will reach you. Answer now with what you have."

// history

/** Appends user blocks, merging into a trailing user message so roles keep alternating. */
export const appendUser = (history: Message.History, blocks: ReadonlyArray<Message.ContentBlock>): Message.History => {
  if (blocks.length === 0) return history
  const last = history[history.length - 1]
  return last?.role === "user"
    ? [...history.slice(0, -1), { role: "user", content: [...last.content, ...blocks] }]
    : [...history, { role: "user", content: blocks }]
}

/** Appends assistant blocks, merging into a trailing assistant message (a `pause_turn` continuation). */
export const appendAssistant = (
  history: Message.History,
  blocks: ReadonlyArray<Message.ContentBlock>
): Message.History => {
  if (blocks.length === 0) return history
  const last = history[history.length - 1]
  return last?.role === "assistant"
    ? [...history.slice(0, -1), { role: "assistant", content: [...last.content, ...blocks] }]
    : [...history, { role: "assistant", content: blocks }]
}

/**
 * Makes a saved history valid to send: the `tool_use`s of a trailing assistant message that has
 * no results get synthetic error results, as after an interrupted ask.
 */
export const repairHistory = (history: Message.History): Message.History => {
  const last = history[history.length - 1]
  if (last?.role !== "assistant") return history
  const uses = Message.toolUses(last.content)
  if (uses.length === 0) return history
  return appendUser(
    history,
    uses.map((use) =>
      Message.toolResult(use.id, "Tool call did not run: the conversation was saved before it finished.", true)
    )
  )
}

// one ask

class Run {
  turns = 0
  attempts = 0
  usage: Usage.Usage = Usage.empty
  value: { readonly value: unknown } | undefined = undefined
  /** The turn attempt in progress, not yet committed. */
  current: TurnAccumulator | undefined = undefined
  /** Tool calls committed in an assistant message whose results are not yet committed. */
  pending: ReadonlyArray<Message.ToolUseBlock> | undefined = undefined
  readonly results = new Map<string, Message.ToolResultBlock>()
  response: NormalizedResponse | undefined = undefined
  result: RunResult | undefined = undefined

  partial(): Partial {
    return (this.current ?? new TurnAccumulator("provider")).partial(this.usage)
  }
}

const withPartial = (error: unknown, partial: Partial): unknown =>
  error instanceof ProviderError || error instanceof Timeout ? error.withPartial(partial) : error

const timeoutError = (phase: TimeoutPhase, limit: Duration.Duration, partial: Partial, what: string) =>
  new Timeout({
    phase,
    limitMillis: Duration.toMillis(limit),
    partial,
    message:
      `${what} took longer than ${Duration.format(limit)} (the ${phase} timeout). ` +
      `The partial output is on this error; raise timeouts.${phase} if this is expected.`
  })

/**
 * Runs one ask. `onResult` receives the run's result when it completes; the stream fails with a
 * `HarnessError` otherwise. `MaxTurnsExceeded` is not raised here: the result's status says it.
 */
export const ask = (
  config: Config,
  state: State,
  prompt: string | ReadonlyArray<Message.ContentBlock>,
  onResult: (result: RunResult) => void,
  options?: AskOptions
): Stream.Stream<StreamEvent.StreamEvent, HarnessError> => {
  const run = new Run()
  const timeouts = config.timeouts
  const providerName = config.provider.info.name
  const toolsByName = new Map(config.tools.map((tool) => [tool.name, tool]))

  // requests

  const buildRequest = Effect.gen(function* () {
    const history = yield* Ref.get(state.history)
    const visible = yield* Ref.get(state.visible)
    const last = run.turns === config.maxTurns && history[history.length - 1]?.role === "user"
    const messages = last ? appendUser(history, [Message.text(LAST_TURN_REMINDER)]) : history
    const request: Provider.Request = {
      system: config.system,
      messages,
      tools: config.tools.filter((tool) => visible.has(tool.name)).map(Tool.definition),
      maxTokens: config.maxTokens,
      requestTimeout: timeouts.request
    }
    return config.cache ? config.provider.formatCacheControl(request) : request
  })

  // one model turn: attempts with event timeouts, folded as they stream, retried by policy

  const withEventTimeouts = <E>(events: Stream.Stream<StreamEvent.ProviderEvent, E>) =>
    withPullDeadlines(events, { first: timeouts.firstEvent, idle: timeouts.idle }, (first, limit) =>
      timeoutError(
        first ? "firstEvent" : "idle",
        limit,
        run.partial(),
        first ? "The first event of the turn" : "The gap between two events"
      )
    )

  const attempt = (
    number: number,
    step: (now: number, input: unknown) => Effect.Effect<[unknown, Duration.Duration], unknown>
  ): Stream.Stream<StreamEvent.StreamEvent, HarnessError> =>
    Stream.suspend(() => {
      const turn = new TurnAccumulator(providerName)
      run.current = turn
      run.attempts++
      // one stage folds every chunk into the turn as it passes and, at the end, commits the response
      const events = Stream.unwrap(Effect.map(buildRequest, (request) => config.provider.stream(request))).pipe(
        withEventTimeouts,
        (stream) =>
          Stream.transformPull(stream, (pull) =>
            Effect.succeed(
              pull.pipe(
                Effect.flatMap((chunk) => {
                  for (const event of chunk) {
                    const error = turn.apply(event)
                    if (error) return Effect.fail(error)
                  }
                  turn.emitted = true
                  return Effect.succeed(chunk)
                }),
                Pull.catchDone((): Effect.Effect<never, ProviderError | Cause.Done> => {
                  const response = turn.response()
                  if (response instanceof ProviderError) return Effect.fail(response)
                  run.response = response
                  return Cause.done()
                })
              )
            )
          )
      )
      return (events as Stream.Stream<StreamEvent.StreamEvent, HarnessError>).pipe(
        Stream.catchCause((cause): Stream.Stream<StreamEvent.StreamEvent, HarnessError> => {
          const failure = Cause.findErrorOption(cause)
          if (Cause.hasInterrupts(cause) || Option.isNone(failure)) return Stream.failCause(cause)
          const error = failure.value
          // Giving up leaves the attempt in progress for `repair`, which keeps its partial text by
          // policy and counts its usage; a retry counts the usage here and starts a fresh attempt.
          const giveUp = Stream.fail(withPartial(error, run.partial()) as HarnessError)
          if (config.retry === undefined || !isRetryable(error)) return giveUp
          return Stream.unwrap(
            Effect.gen(function* () {
              const now = yield* Clock.currentTimeMillis
              const next = yield* Effect.exit(step(now, error))
              if (Exit.isFailure(next)) return giveUp
              run.usage = Usage.add(run.usage, turn.usage)
              run.current = undefined
              let delay = next.value[1]
              const retryAfter = error instanceof ProviderError ? error.retryAfter : undefined
              if (retryAfter !== undefined) {
                delay = Duration.max(delay, Duration.min(Duration.millis(retryAfter), config.maxRetryAfter))
              }
              const discard: Stream.Stream<StreamEvent.StreamEvent> = turn.emitted
                ? Stream.succeed({ type: "discard", attempt: number, reason: error.message })
                : Stream.empty
              return discard.pipe(
                Stream.concat(Stream.drain(Stream.fromEffect(Effect.sleep(delay)))),
                Stream.concat(attempt(number + 1, step))
              )
            })
          )
        })
      )
    })

  const modelTurn = (): Stream.Stream<StreamEvent.StreamEvent, HarnessError> => {
    // the retry schedule's state is made at the turn's first failure (its clock starts then anyway):
    // a turn that does not fail pays no extra stream stage for it
    const retry = config.retry
    let step: ((now: number, input: unknown) => Effect.Effect<[unknown, Duration.Duration], unknown>) | undefined
    const attempts = attempt(
      1,
      retry === undefined
        ? () => Effect.fail(undefined)
        : (now, input) =>
            step !== undefined
              ? step(now, input)
              : Effect.flatMap(Schedule.toStep(retry), (made) => {
                  step = made
                  return made(now, input)
                })
    )
    const limit = timeouts.turn
    if (limit === undefined) return attempts
    return attempts.pipe(
      Stream.interruptWhen(
        Effect.sleep(limit).pipe(
          Effect.andThen(
            Effect.suspend(() => Effect.fail(timeoutError("turn", limit, run.partial(), "The model turn")))
          )
        )
      )
    )
  }

  // tools

  const toolContext = (toolUseId: string): Tool.Context => ({
    toolUseId,
    data: state.data,
    reveal: (...names) =>
      Ref.update(state.visible, (visible) => {
        const next = new Set(visible)
        for (const name of names) if (toolsByName.has(name)) next.add(name)
        return next
      }),
    setAnswer: (value) =>
      Effect.sync(() => {
        run.value = { value }
      })
  })

  const callTool = (use: Message.ToolUseBlock) =>
    Effect.gen(function* () {
      const visible = yield* Ref.get(state.visible)
      const tool = toolsByName.get(use.name)
      let outcome: Tool.Outcome
      if (tool === undefined || !visible.has(use.name)) {
        const available = config.tools.filter((t) => visible.has(t.name)).map((t) => t.name)
        outcome = {
          content: `Unknown tool "${use.name}". Available tools: ${available.join(", ") || "none"}.`,
          isError: true
        }
      } else {
        const limit = tool.timeout === undefined ? timeouts.tool : undefined
        const call = tool.call(use.input, toolContext(use.id)).pipe(Effect.provideContext(config.context))
        outcome =
          limit === undefined
            ? yield* call
            : yield* call.pipe(
                Effect.timeoutOrElse({
                  duration: limit,
                  orElse: () =>
                    Effect.succeed<Tool.Outcome>({
                      content: `Tool "${use.name}" timed out after ${Duration.format(limit)} and was stopped.`,
                      isError: true
                    })
                })
              )
      }
      const block = Message.toolResult(use.id, outcome.content, outcome.isError)
      run.results.set(use.id, block)
      const event: StreamEvent.ToolResult = {
        type: "tool_result",
        tool_use_id: use.id,
        tool_name: use.name,
        content: outcome.content,
        is_error: outcome.isError
      }
      return event
    })

  const answerAll = (uses: ReadonlyArray<Message.ToolUseBlock>, content: string) =>
    Effect.sync(() => {
      const events: Array<StreamEvent.StreamEvent> = []
      for (const use of uses) {
        run.results.set(use.id, Message.toolResult(use.id, content, true))
        events.push({ type: "tool_result", tool_use_id: use.id, tool_name: use.name, content, is_error: true })
      }
      return events
    })

  const commitResults = Effect.suspend(() => {
    const pending = run.pending ?? []
    const blocks = pending.map(
      (use) =>
        run.results.get(use.id) ??
        Message.toolResult(use.id, "Tool call did not run: the run ended before it finished.", true)
    )
    run.pending = undefined
    run.results.clear()
    return Ref.update(state.history, (history) => appendUser(history, blocks))
  })

  // the loop

  const finish = (status: RunResult["status"], response: NormalizedResponse) =>
    Effect.sync(() => {
      run.result = new RunResult({
        text: response.text,
        status,
        turns: run.turns,
        attempts: run.attempts,
        stopReason: response.stopReason,
        usage: run.usage,
        ...(run.value !== undefined ? { value: run.value.value } : {})
      })
    })

  /** The last events of a run that hit maxTurns, then the failure the caller asked for, if any. */
  const maxTurnsEnd = (
    events: ReadonlyArray<StreamEvent.StreamEvent>
  ): Stream.Stream<StreamEvent.StreamEvent, HarnessError> => {
    const last = events.length > 0 ? Stream.fromArray(events) : Stream.empty
    const onMaxTurns = options?.onMaxTurns
    // called after `finish`, so the run's result is set
    return onMaxTurns === undefined ? last : Stream.concat(last, Stream.fail(onMaxTurns(run.result!)))
  }

  const afterTurn = Effect.gen(function* () {
    const response = run.response!
    run.current = undefined
    run.usage = Usage.add(run.usage, response.usage)
    const uses = Message.toolUses(response.content)
    // an empty text block is rejected by the API when sent back, so it is not kept
    const kept = response.content.filter(
      (block) => block.type !== "text" || (block as Message.TextBlock).text.length > 0
    )
    yield* Ref.update(state.history, (history) => appendAssistant(history, kept))
    if (uses.length > 0) run.pending = uses
    if (uses.length > 0 && response.stopReason === "max_tokens") {
      const events = yield* answerAll(
        uses,
        "Not run: your output hit max_tokens before this turn finished, so its tool calls may be cut short. " +
          "Call the tool again (with shorter input if it was long)."
      )
      yield* commitResults
      if (run.turns >= config.maxTurns) {
        yield* finish("max_turns", response)
        return maxTurnsEnd(events)
      }
      return Stream.concat(Stream.fromArray(events), loop())
    }
    if (uses.length > 0) {
      if (run.turns >= config.maxTurns) {
        const events = yield* answerAll(uses, `Not run: the turn limit (${config.maxTurns}) was reached.`)
        yield* commitResults
        yield* finish("max_turns", response)
        return maxTurnsEnd(events)
      }
      const tools = Stream.fromIterable(uses).pipe(Stream.mapEffect(callTool, { concurrency: config.toolConcurrency }))
      return tools.pipe(Stream.concat(Stream.drain(Stream.fromEffect(commitResults))), Stream.concat(loop()))
    }
    if (response.stopReason === "pause_turn") {
      // a paused server-tool turn is continued by sending it back; past the limit it is unfinished
      if (run.turns < config.maxTurns) return loop()
      yield* finish("max_turns", response)
      return maxTurnsEnd([])
    }
    yield* finish("completed", response)
    return Stream.empty
  })

  const loop = (): Stream.Stream<StreamEvent.StreamEvent, HarnessError> =>
    Stream.suspend(() => {
      run.turns++
      return modelTurn().pipe(Stream.concat(Stream.unwrap(afterTurn)))
    })

  // ending: repair the history whatever happened, then report

  const repair = Effect.gen(function* () {
    if (run.pending !== undefined) yield* commitResults
    const turn = run.current
    if (turn !== undefined) {
      run.usage = Usage.add(run.usage, turn.usage)
      run.current = undefined
      if (config.partialTurn === "keep") {
        const text = turn
          .partial(Usage.empty)
          .content.filter((block) => block.type === "text" && (block as Message.TextBlock).text.length > 0)
        yield* Ref.update(state.history, (history) => appendAssistant(history, text))
      }
    }
    yield* Ref.update(state.usage, (usage) => Usage.add(usage, run.usage))
    if (run.result !== undefined) onResult(run.result)
  })

  const start = Ref.update(state.history, (history) =>
    appendUser(history, typeof prompt === "string" ? [Message.text(prompt)] : prompt)
  )

  const body = loop()
  const limited =
    timeouts.run === undefined
      ? body
      : body.pipe(
          Stream.interruptWhen(
            Effect.sleep(timeouts.run).pipe(
              Effect.andThen(
                Effect.suspend(() => Effect.fail(timeoutError("run", timeouts.run!, run.partial(), "The run")))
              )
            )
          )
        )
  // one stage for the whole ask: the caller's acquisition (a session's turn), the repair
  // finalizer, the user message; every stage between the provider and the consumer costs each pull
  return Stream.unwrap(
    Effect.as(
      Effect.andThen(
        options?.acquire ?? Effect.void,
        Effect.andThen(
          Effect.addFinalizer(() => repair),
          start
        )
      ),
      limited
    )
  )
}
