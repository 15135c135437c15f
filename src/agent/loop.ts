/**
 * The agent loop of one ask: model turn (with timeouts and retries), tools for every `tool_use`
 * (a `tool_result` event after each), next turn, until the model ends its turn.
 *
 * It is one hand-written pull, not a pipeline of stream stages: `next` is what the consumer's
 * next pull runs (the provider's pull with the turn's fold around it, the tool calls' pull, a
 * retry's sleep, the end), and each phase sets the one after it.
 *
 * History stays valid whatever happens: the user message and every completed turn are committed
 * as they complete; when the ask ends early (failure, timeout, interruption, a consumer that stops
 * pulling) `repair` answers every `tool_use` that has no result with a synthetic error result and
 * keeps or drops the partial assistant turn by policy.
 */
import {
  Cause,
  Channel,
  type Context,
  Duration,
  Effect,
  Exit,
  MutableRef,
  Option,
  Pull,
  type Ref,
  Schedule,
  Scope,
  Stream
} from "effect"
import type * as Arr from "effect/Array"
import type { HarnessError } from "../core/HarnessError.js"
import { isRetryable, type Partial, ProviderError, Timeout, type TimeoutPhase } from "../core/HarnessError.js"
import * as Message from "../core/Message.js"
import { RunResult } from "../core/RunResult.js"
import type * as StreamEvent from "../core/StreamEvent.js"
import { TurnAccumulator, type TurnResult } from "../core/TurnAccumulator.js"
import * as Usage from "../core/Usage.js"
import type * as Data from "../data/Data.js"
import type * as Provider from "../provider/Provider.js"
import { monotonicMillis, withPullDeadlines } from "../provider/pullDeadline.js"
import * as Tool from "../tools/Tool.js"
import type * as Session from "./Session.js"

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

// tools

/**
 * What the loop derives from an agent's tool list, made once per list (an agent's tools do not
 * change) instead of at every ask.
 */
class ToolIndex {
  private static readonly byList = new WeakMap<ReadonlyArray<Tool.Any>, ToolIndex>()

  static of(tools: ReadonlyArray<Tool.Any>): ToolIndex {
    let index = ToolIndex.byList.get(tools)
    if (index === undefined) {
      index = new ToolIndex(tools)
      ToolIndex.byList.set(tools, index)
    }
    return index
  }

  readonly byName: ReadonlyMap<string, Tool.Any>
  /** The names visible before anything is revealed: one set shared by every state (never mutated). */
  readonly initiallyVisible: ReadonlySet<string>
  private constructor(tools: ReadonlyArray<Tool.Any>) {
    this.byName = new Map(tools.map((tool) => [tool.name, tool]))
    this.initiallyVisible = new Set(tools.filter((tool) => tool.visible).map((tool) => tool.name))
  }
}

/** The tools visible in a new state, before any reveal (a set shared by every state: replace, never mutate it). */
export const initiallyVisible = (tools: ReadonlyArray<Tool.Any>): ReadonlySet<string> =>
  ToolIndex.of(tools).initiallyVisible

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
  response: TurnResult | undefined = undefined
  /** How the run ended, once it has: its `RunResult` is built only when somebody reads it. */
  ended: { readonly status: RunResult["status"]; readonly response: TurnResult } | undefined = undefined

  result(): RunResult {
    const { status, response } = this.ended!
    return new RunResult({
      text: Message.textOf(response.content),
      status,
      turns: this.turns,
      attempts: this.attempts,
      stopReason: response.stopReason,
      usage: this.usage,
      ...(this.value !== undefined ? { value: this.value.value } : {})
    })
  }

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

type Events = Arr.NonEmptyReadonlyArray<StreamEvent.StreamEvent>

/** What the ask does on its next pull: emit events, or fail, or end (`Cause.Done`). */
type Step = Pull.Pull<Events, HarnessError>

const update = <A>(ref: Ref.Ref<A>, f: (a: A) => A): void => {
  MutableRef.update(ref.ref, f)
}

/**
 * Runs one ask. `onResult` (when given) receives the run's result when it completes; the stream
 * fails with a `HarnessError` otherwise. `MaxTurnsExceeded` is not raised here: the result's status says it.
 *
 * The ask is one hand-written pull (`next` is what the next pull runs), not a pipeline of stream
 * stages: every event of a model turn passes through one fold on its way from the provider to
 * the consumer, and the end of a run is a few synchronous updates. With 1,000 concurrent streams
 * each stage and each fiber hand-off costs microseconds per event and per run end.
 */
export const ask = (
  config: Config,
  /** The session's state, or how to make a new one (each time the stream runs). */
  given: State | Effect.Effect<State>,
  prompt: string | ReadonlyArray<Message.ContentBlock>,
  onResult: ((result: RunResult) => void) | undefined,
  options?: AskOptions
): Stream.Stream<StreamEvent.StreamEvent, HarnessError> =>
  // one stage for the whole ask; every run of the stream is a run of its own (`Stream.retry`,
  // running the same stream twice): its own `Run`, and its own state when it makes one
  Stream.fromChannel(
    Channel.fromTransform((_, scope) => Effect.suspend(() => start(config, given, prompt, onResult, options, scope)))
  )

/**
 * One run of an ask, in the stream's scope: the caller's acquisition (a session's turn), the
 * repair finalizer, the user message, then the loop's pull.
 */
const start = (
  config: Config,
  given: State | Effect.Effect<State>,
  prompt: string | ReadonlyArray<Message.ContentBlock>,
  onResult: ((result: RunResult) => void) | undefined,
  options: AskOptions | undefined,
  scope: Scope.Scope
): Effect.Effect<Step> => {
  const run = new Run()
  // set before anything below runs: `given`, or made when the run starts
  let state: State = Effect.isEffect(given) ? (undefined as unknown as State) : given
  const timeouts = config.timeouts
  const providerName = config.provider.info.name
  const toolIndex = ToolIndex.of(config.tools)
  const toolsByName = toolIndex.byName

  // requests

  const buildRequest = (): Provider.Request => {
    const history = MutableRef.get(state.history.ref)
    const visible = MutableRef.get(state.visible.ref)
    const last = run.turns === config.maxTurns && history[history.length - 1]?.role === "user"
    const messages = last ? appendUser(history, [Message.text(LAST_TURN_REMINDER)]) : history
    const request: Provider.Request = {
      system: config.system,
      messages,
      // fresh definitions for every request: a provider may edit its request in place
      tools: config.tools.filter((tool) => visible.has(tool.name)).map(Tool.definition),
      maxTokens: config.maxTokens,
      requestTimeout: timeouts.request
    }
    return config.cache ? config.provider.formatCacheControl(request) : request
  }

  // tools

  const toolContext = (toolUseId: string): Tool.Context => ({
    toolUseId,
    data: state.data,
    reveal: (...names) =>
      Effect.sync(() =>
        update(state.visible, (visible) => {
          const next = new Set(visible)
          for (const name of names) if (toolsByName.has(name)) next.add(name)
          return next
        })
      ),
    setAnswer: (value) =>
      Effect.sync(() => {
        run.value = { value }
      })
  })

  const callTool = (use: Message.ToolUseBlock) =>
    Effect.gen(function* () {
      const visible = MutableRef.get(state.visible.ref)
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

  const answerAll = (uses: ReadonlyArray<Message.ToolUseBlock>, content: string): Array<StreamEvent.StreamEvent> => {
    const events: Array<StreamEvent.StreamEvent> = []
    for (const use of uses) {
      run.results.set(use.id, Message.toolResult(use.id, content, true))
      events.push({ type: "tool_result", tool_use_id: use.id, tool_name: use.name, content, is_error: true })
    }
    return events
  }

  const commitResults = (): void => {
    const pending = run.pending ?? []
    const blocks = pending.map(
      (use) =>
        run.results.get(use.id) ??
        Message.toolResult(use.id, "Tool call did not run: the run ended before it finished.", true)
    )
    run.pending = undefined
    run.results.clear()
    update(state.history, (history) => appendUser(history, blocks))
  }

  const finish = (status: RunResult["status"], response: TurnResult): void => {
    run.ended = { status, response }
  }

  // ending: repair the history whatever happened, then report

  const repair = Effect.sync(() => {
    if (run.pending !== undefined) commitResults()
    const turn = run.current
    if (turn !== undefined) {
      run.usage = Usage.add(run.usage, turn.usage)
      run.current = undefined
      if (config.partialTurn === "keep") {
        const text = turn
          .partial(Usage.empty)
          .content.filter((block) => block.type === "text" && (block as Message.TextBlock).text.length > 0)
        update(state.history, (history) => appendAssistant(history, text))
      }
    }
    update(state.usage, (usage) => Usage.add(usage, run.usage))
    if (run.ended !== undefined && onResult !== undefined) onResult(run.result())
  })

  /**
   * The loop's pull. `now` is monotonic (the turn's deadline: a wall-clock jump must not end or
   * stretch a turn); the retry schedule gets the wall clock, as Effect's schedules expect.
   */
  const body = (scope: Scope.Scope, now: () => number, wallNow: () => number): Step => {
    let next: Step
    /** When the turn in progress must end (its `turn` timeout), on `now()`'s clock. */
    let turnDeadline: number | undefined
    let retryStep: ((now: number, input: unknown) => Effect.Effect<[unknown, Duration.Duration], unknown>) | undefined

    const go = (step: Step): Step => {
      next = step
      return step
    }
    /** Emits `events` now, then goes on with `then()` at the next pull. */
    const emit = (events: ReadonlyArray<StreamEvent.StreamEvent>, then: () => Step): Step => {
      if (events.length === 0) return then()
      next = Effect.suspend(then)
      return Effect.succeed(events as Events)
    }
    const end = (): Step => go(Cause.done())

    const turnTimeout = () => {
      const limit = timeouts.turn!
      return timeoutError("turn", limit, run.partial(), "The model turn")
    }

    // one model turn: attempts with event timeouts, folded as they stream, retried by policy

    const startTurn = (): Step => {
      run.turns++
      // every turn gets the whole retry policy: its schedule's state is made at its first failure
      retryStep = undefined
      turnDeadline = timeouts.turn === undefined ? undefined : now() + Duration.toMillis(timeouts.turn)
      return startAttempt(1)
    }

    const startAttempt = (number: number): Step => {
      const turn = new TurnAccumulator(providerName)
      run.current = turn
      run.attempts++
      const attemptScope = Scope.forkUnsafe(scope)
      // the deadlines go on the provider's own stream: one that enforces them itself needs no puller fiber
      let events = withPullDeadlines(
        config.provider.stream(buildRequest()),
        { first: timeouts.firstEvent, idle: timeouts.idle },
        (first, limit) =>
          timeoutError(
            first ? "firstEvent" : "idle",
            limit,
            run.partial(),
            first ? "The first event of the turn" : "The gap between two events"
          )
      )
      if (turnDeadline !== undefined) {
        const remaining = Math.max(0, turnDeadline - now())
        events = Stream.interruptWhen(
          events,
          Effect.andThen(
            Effect.sleep(remaining),
            Effect.suspend(() => Effect.fail(turnTimeout()))
          )
        )
      }

      const failed = (cause: Cause.Cause<unknown>): Step =>
        Effect.andThen(
          Scope.close(attemptScope, Exit.failCause(cause)),
          Effect.suspend(() => retryOrFail(cause))
        )

      const retryOrFail = (cause: Cause.Cause<unknown>): Step => {
        const failure = Cause.findErrorOption(cause)
        if (Cause.hasInterrupts(cause) || Option.isNone(failure))
          return go(Effect.failCause(cause as Cause.Cause<never>))
        const error = failure.value
        // Giving up leaves the attempt in progress for `repair`, which keeps its partial text by
        // policy and counts its usage; a retry counts the usage here and starts a fresh attempt.
        const giveUp = (): Step => go(Effect.fail(withPartial(error, run.partial()) as HarnessError))
        const retry = config.retry
        if (retry === undefined || !isRetryable(error)) return giveUp()
        // the retry schedule's state is made at the turn's first failure (its clock starts then anyway)
        const step =
          retryStep !== undefined
            ? retryStep(wallNow(), error)
            : Effect.flatMap(Schedule.toStep(retry), (made) => {
                retryStep = made
                return made(wallNow(), error)
              })
        return Effect.flatMap(Effect.exit(step), (decision): Step => {
          if (Exit.isFailure(decision)) return giveUp()
          run.usage = Usage.add(run.usage, turn.usage)
          run.current = undefined
          let delay = decision.value[1]
          const retryAfter = error instanceof ProviderError ? error.retryAfter : undefined
          if (retryAfter !== undefined) {
            delay = Duration.max(delay, Duration.min(Duration.millis(retryAfter), config.maxRetryAfter))
          }
          const wait = Duration.toMillis(delay)
          const remaining = turnDeadline === undefined ? undefined : turnDeadline - now()
          const after: () => Step =
            remaining !== undefined && remaining <= wait
              ? () =>
                  go(
                    Effect.andThen(
                      Effect.sleep(Math.max(0, remaining)),
                      Effect.suspend(() => Effect.fail(turnTimeout()))
                    )
                  )
              : () =>
                  go(
                    Effect.andThen(
                      Effect.sleep(delay),
                      Effect.suspend(() => startAttempt(number + 1))
                    )
                  )
          return turn.emitted
            ? emit([{ type: "discard", attempt: number, reason: (error as { message: string }).message }], after)
            : after()
        })
      }

      const fold = (chunk: Arr.NonEmptyReadonlyArray<StreamEvent.ProviderEvent>): Step => {
        for (const event of chunk) {
          const error = turn.apply(event)
          if (error) return failed(Cause.fail(error))
        }
        turn.emitted = true
        return Effect.succeed(chunk)
      }

      const ended = (cause: Cause.Cause<unknown>): Step => {
        if (!Pull.isDoneCause(cause)) return failed(cause)
        const response = turn.result()
        if (response instanceof ProviderError) return failed(Cause.fail(response))
        run.response = response
        return Effect.andThen(Scope.close(attemptScope, Exit.void), Effect.suspend(afterTurn))
      }

      return go(
        Effect.flatMap(Channel.toPullScoped(Stream.toChannel(events), attemptScope), (pull) =>
          go(Effect.matchCauseEffect(pull, { onSuccess: fold, onFailure: ended }))
        )
      )
    }

    // after a turn: its tool calls, the next turn, or the end

    const maxTurnsEnd = (): Step => {
      const onMaxTurns = options?.onMaxTurns
      // called after `finish`, so the run's result is set
      return onMaxTurns === undefined ? end() : go(Effect.fail(onMaxTurns(run.result())))
    }

    const afterTurn = (): Step => {
      const response = run.response!
      run.current = undefined
      run.usage = Usage.add(run.usage, response.usage)
      const uses = Message.toolUses(response.content)
      // an empty text block is rejected by the API when sent back, so it is not kept
      const kept = response.content.filter(
        (block) => block.type !== "text" || (block as Message.TextBlock).text.length > 0
      )
      update(state.history, (history) => appendAssistant(history, kept))
      if (uses.length > 0) run.pending = uses
      if (uses.length > 0 && response.stopReason === "max_tokens") {
        const events = answerAll(
          uses,
          "Not run: your output hit max_tokens before this turn finished, so its tool calls may be cut short. " +
            "Call the tool again (with shorter input if it was long)."
        )
        commitResults()
        if (run.turns >= config.maxTurns) {
          finish("max_turns", response)
          return emit(events, maxTurnsEnd)
        }
        return emit(events, startTurn)
      }
      if (uses.length > 0) {
        if (run.turns >= config.maxTurns) {
          const events = answerAll(uses, `Not run: the turn limit (${config.maxTurns}) was reached.`)
          commitResults()
          finish("max_turns", response)
          return emit(events, maxTurnsEnd)
        }
        return startTools(uses)
      }
      if (response.stopReason === "pause_turn") {
        // a paused server-tool turn is continued by sending it back; past the limit it is unfinished
        if (run.turns < config.maxTurns) return startTurn()
        finish("max_turns", response)
        return maxTurnsEnd()
      }
      finish("completed", response)
      return end()
    }

    const startTools = (uses: ReadonlyArray<Message.ToolUseBlock>): Step => {
      const toolsScope = Scope.forkUnsafe(scope)
      const results = Stream.fromIterable(uses).pipe(
        Stream.mapEffect(callTool, { concurrency: config.toolConcurrency })
      )
      const ended = (cause: Cause.Cause<HarnessError | Cause.Done>): Step => {
        if (!Pull.isDoneCause(cause)) return go(Effect.failCause(cause))
        commitResults()
        return Effect.andThen(Scope.close(toolsScope, Exit.void), Effect.suspend(startTurn))
      }
      return go(
        Effect.flatMap(Channel.toPullScoped(Stream.toChannel(results), toolsScope), (pull) =>
          go(Effect.matchCauseEffect(pull, { onSuccess: (events) => Effect.succeed(events), onFailure: ended }))
        )
      )
    }

    next = Effect.suspend(startTurn)
    return Effect.suspend(() => next)
  }

  return Effect.clockWith((clock) => {
    const begin = Effect.andThen(Scope.addFinalizer(scope, repair), (): Effect.Effect<Step> => {
      update(state.history, (history) =>
        appendUser(history, typeof prompt === "string" ? [Message.text(prompt)] : prompt)
      )
      const pull = body(scope, monotonicMillis(clock), () => clock.currentTimeMillisUnsafe())
      const limit = timeouts.run
      if (limit === undefined) return Effect.succeed(pull)
      // the run's limit starts here, after the acquisition: waiting for the session's turn is not running
      const limited = Stream.fromPull(Effect.succeed(pull)).pipe(
        Stream.interruptWhen(
          Effect.andThen(
            Effect.sleep(limit),
            Effect.suspend(() => Effect.fail(timeoutError("run", limit, run.partial(), "The run")))
          )
        )
      )
      return Channel.toPullScoped(Stream.toChannel(limited), scope)
    })
    const ready = Effect.isEffect(given)
      ? Effect.flatMap(given, (made) => {
          state = made
          return begin
        })
      : begin
    const acquire = options?.acquire
    return acquire === undefined ? ready : Effect.andThen(Effect.provideService(acquire, Scope.Scope, scope), ready)
  })
}
