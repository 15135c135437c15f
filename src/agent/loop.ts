/**
 * The agent loop of one ask, as the data flows: prompt -> request -> provider stream -> fold into
 * a turn -> commit the turn -> tools -> commit their results -> next turn, or the end.
 *
 * It is one pull-based stream, not a pipeline of stream stages: every event of a model turn
 * passes through one fold on its way from the provider to the consumer, and with 1,000 concurrent
 * streams each stage and each fiber hand-off costs microseconds per event. The ask's state is one
 * value ({@link AskState}); its `phase` says what the consumer's next pull runs, and each step
 * below is a function from the ask to that pull. The session's state is written through `Ref`.
 *
 * History stays valid whatever happens (see `history.ts`): the user message, every completed
 * turn (at its `message_stop`) and every batch of tool results are committed as they complete;
 * when the ask ends early (failure, timeout, interruption, a consumer that stops pulling)
 * {@link repair} answers every `tool_use` that has no result with a synthetic error result and
 * keeps or drops the turn in progress by policy.
 *
 * @internal
 */
import { Cause, Channel, type Clock, Duration, Effect, Exit, Option, Pull, Ref, Scope, Stream } from "effect"
import type { HarnessError } from "../core/HarnessError.js"
import { ProviderError, type Timeout } from "../core/HarnessError.js"
import * as Message from "../core/Message.js"
import type { RunResult } from "../core/RunResult.js"
import type * as StreamEvent from "../core/StreamEvent.js"
import { TurnAccumulator, type TurnResult } from "../core/TurnAccumulator.js"
import * as Usage from "../core/Usage.js"
import type * as Provider from "../provider/Provider.js"
import { monotonicMillis, withPullDeadlines } from "../provider/pullDeadline.js"
import { type Step as SessionStep, turnStep, userStep } from "../store/Step.js"
import * as Trace from "../telemetry/trace.js"
import * as Tool from "../tools/Tool.js"
import { afterTools, beforeEnd } from "./answerTurns.js"
import {
  type Ask,
  type AskOptions,
  AskState,
  type Events,
  emit,
  end,
  keptOfPartial,
  type Phase,
  type Step,
  timeoutError,
  withPartial
} from "./askState.js"
import type { Config } from "./config.js"
import {
  afterModel,
  afterTurn as afterTurnHooks,
  beforeModel,
  compactBeforeTurn,
  makeAskControl
} from "./controlSteps.js"
import { rollback } from "./firstRequest.js"
import { appendUser } from "./history.js"
import { toolChoiceOfTurn } from "./params.js"
import { retryDelay } from "./retry.js"
import type { SessionState } from "./sessionState.js"
import { answerAll, commitResults, resultsStep, startTools } from "./toolRun.js"

export type { AskOptions } from "./askState.js"

/** The reminder the last allowed turn carries. */
const LAST_TURN_REMINDER =
  "[harness] This is your last turn: no further tool results will reach you. Answer now with what you have."

/**
 * One ask as a stream. `session` is the session's state, or how to make a fresh one in the
 * stream's scope (a one-shot run: its data store closes when the stream ends). Every run of the
 * stream is a run of its own. `MaxTurnsExceeded` is raised only through `options.onMaxTurns`.
 * @internal
 */
export const ask = (
  config: Config,
  session: SessionState | Effect.Effect<SessionState, never, Scope.Scope>,
  prompt: ReadonlyArray<Message.ContentBlock>,
  options?: AskOptions
): Stream.Stream<StreamEvent.StreamEvent, HarnessError> =>
  Stream.fromChannel(
    Channel.fromTransform((_, scope) => Effect.suspend(() => start(config, session, prompt, options, scope)))
  )

// prompt

/** The caller's acquisition (a session's turn), the session, then the ask's first pull. */
const start = (
  config: Config,
  given: SessionState | Effect.Effect<SessionState, never, Scope.Scope>,
  prompt: ReadonlyArray<Message.ContentBlock>,
  options: AskOptions | undefined,
  scope: Scope.Scope
): Effect.Effect<Step, HarnessError> => {
  // a session whose last store write failed goes back to what its store holds first
  const withSession = (session: SessionState) =>
    Effect.andThen(
      session.resync,
      Effect.clockWith((clock) =>
        Effect.flatMap(Trace.start({ provider: config.provider.info }), (trace) =>
          begin(makeAsk(config, session, options, scope, clock, trace), prompt)
        )
      )
    )
  const ready = Effect.isEffect(given)
    ? Effect.flatMap(Effect.provideService(given, Scope.Scope, scope), withSession)
    : withSession(given)
  const acquire = options?.acquire
  return acquire === undefined ? ready : Effect.andThen(Effect.provideService(acquire, Scope.Scope, scope), ready)
}

const makeAsk = (
  config: Config,
  session: SessionState,
  options: AskOptions | undefined,
  scope: Scope.Scope,
  clock: Clock.Clock,
  trace: Trace.AskTrace
): Ask => {
  const state = new AskState()
  const ask: Ask = {
    config,
    session,
    state,
    options,
    scope,
    now: monotonicMillis(clock),
    wallNow: () => clock.currentTimeMillisUnsafe(),
    trace,
    tools: {
      config,
      visible: session.visible,
      get data() {
        return session.data
      },
      setAnswer: (value, sources) => {
        state.answer = sources === undefined ? { value } : { value, sources }
      }
    }
  }
  state.control = makeAskControl(ask)
  state.phase = startingPhase(ask)
  return ask
}

/**
 * Commits the prompt as the user message (the repair is in place first) and returns the ask's
 * pull, under the run's limit when one is set (it starts here, after the acquisition: waiting for
 * the session's turn is not running).
 */
const begin = (ask: Ask, prompt: ReadonlyArray<Message.ContentBlock>): Effect.Effect<Step, HarnessError> =>
  Effect.andThen(
    Effect.andThen(
      Scope.addFinalizerExit(ask.scope, (exit) => repair(ask, exit)),
      // registered after the repair, so it runs first
      Scope.addFinalizerExit(ask.scope, rollback(ask, Ref.getUnsafe(ask.session.history)))
    ),
    Effect.andThen(
      ask.session.commit([userStep(prompt)], { startsAsk: true }),
      Effect.suspend((): Effect.Effect<Step> => {
        const pull: Step = Effect.suspend(() => ask.state.phase.next)
        const limit = ask.config.timeouts.run
        if (limit === undefined) return Effect.succeed(pull)
        const limited = Stream.fromPull(Effect.succeed(pull)).pipe(
          Stream.interruptWhen(
            Effect.andThen(
              Effect.sleep(limit),
              Effect.suspend(() => Effect.fail(timeoutError("run", limit, ask.state, "The run")))
            )
          )
        )
        return Channel.toPullScoped(Stream.toChannel(limited), ask.scope)
      })
    )
  )

// request

/** A model turn starts: it gets the whole retry policy and its own `turn` deadline. */
const startTurn = (ask: Ask): Step => {
  const { state, config } = ask
  state.turns++
  state.retryStep = undefined
  state.turnDeadline =
    config.timeouts.turn === undefined ? undefined : ask.now() + Duration.toMillis(config.timeouts.turn)
  return compactBeforeTurn(
    ask,
    () => buildRequest(ask),
    (built) => startAttempt(ask, 1, built)
  )
}

/** The request of the turn: the history so far, the visible tools; the last allowed turn says so. */
const buildRequest = (ask: Ask): Provider.Request => {
  const { config, session, state } = ask
  const history = Ref.getUnsafe(session.history)
  const visible = Ref.getUnsafe(session.visible)
  const last = state.turns === config.maxTurns && history[history.length - 1]?.role === "user"
  const request: Provider.Request = {
    ...config.params,
    system: config.system,
    messages: last ? appendUser(history, [Message.text(LAST_TURN_REMINDER)]) : history,
    // fresh definitions for every request: a provider may edit its request in place
    tools: config.tools.filter((tool) => visible.has(tool.name)).map(Tool.definition),
    toolChoice: toolChoiceOfTurn(config.params.toolChoice, state.turns),
    requestTimeout: config.timeouts.request
  }
  return config.cache ? config.provider.formatCacheControl(request) : request
}

// provider stream

/** The provider's events for `request`, under the first-event, idle and turn limits. */
const providerEvents = (ask: Ask, request: Provider.Request): Stream.Stream<StreamEvent.ProviderEvent, unknown> => {
  const { config, state } = ask
  // the deadlines go on the provider's own stream: one that enforces them itself needs no fiber per pull
  const events = withPullDeadlines(
    config.provider.stream(request),
    { first: config.timeouts.firstEvent, idle: config.timeouts.idle },
    (first, limit) =>
      first
        ? timeoutError("firstEvent", limit, ask.state, "The first event of the turn")
        : timeoutError("idle", limit, ask.state, "The gap between two events")
  )
  if (state.turnDeadline === undefined) return events
  const remaining = Math.max(0, state.turnDeadline - ask.now())
  return Stream.interruptWhen(events, Effect.andThen(Effect.sleep(remaining), failTurn(ask)))
}

/** Attempt `attempt` of the turn (its request given when already built): the provider's stream opened in a scope of its own, folded as it streams. */
const startAttempt = (ask: Ask, attempt: number, built?: Provider.Request): Step =>
  beforeModel(ask, attempt, built ?? buildRequest(ask), (request) => openAttempt(ask, attempt, request))

/** Opens attempt `attempt` of the turn with `request` (as the `beforeModel` hooks left it). */
const openAttempt = (ask: Ask, attempt: number, request: Provider.Request): Step => {
  const { state } = ask
  const turn = new TurnAccumulator(ask.config.provider.info.name)
  state.turn = turn
  state.attempts++
  const scope = Scope.forkUnsafe(ask.scope)
  ask.trace.attemptStarted(request, attempt)
  const events = providerEvents(ask, request)
  const phase: Extract<Phase, { _tag: "Model" }> = {
    _tag: "Model",
    attempt,
    turn,
    scope,
    committed: false,
    next: Effect.flatMap(Channel.toPullScoped(Stream.toChannel(events), scope), (pull) => {
      phase.next = Effect.matchCauseEffect(pull, {
        onSuccess: (chunk) => foldChunk(ask, phase, chunk),
        onFailure: (cause) => attemptEnded(ask, phase, cause)
      })
      return phase.next
    })
  }
  state.phase = phase
  return phase.next
}

// fold into a turn

/**
 * Folds a chunk of provider events into the turn and emits it. The chunk that completes the turn
 * (its `message_stop`) commits it first: a consumer that stops after `message_stop` saw the whole
 * turn, and the history keeps it whole. What follows `message_stop` is read, not folded or emitted.
 */
const foldChunk = (
  ask: Ask,
  phase: Extract<Phase, { _tag: "Model" }>,
  chunk: ReadonlyArray<StreamEvent.ProviderEvent>
): Step => {
  if (phase.committed) return phase.next
  const turn = phase.turn
  for (const event of chunk) {
    const error = turn.apply(event)
    if (error) return attemptFailed(ask, phase, Cause.fail(error))
  }
  if (!turn.emitted) ask.trace.firstChunk()
  turn.emitted = true
  if (!turn.stopped) return Effect.succeed(chunk as Events)
  const response = turn.result()
  if (response instanceof ProviderError) return attemptFailed(ask, phase, Cause.fail(response))
  return Effect.as(commitTurn(ask, phase, response), chunk as Events)
}

/** The provider's stream ended: after `message_stop` the turn goes on to its tools; before, it failed. */
const attemptEnded = (ask: Ask, phase: Extract<Phase, { _tag: "Model" }>, cause: Cause.Cause<unknown>): Step => {
  // a failure after message_stop changes nothing: the turn is whole and committed
  if (phase.committed && !Cause.hasInterrupts(cause)) {
    return Effect.andThen(
      Scope.close(phase.scope, Exit.void),
      Effect.suspend(() => afterModel(ask, () => afterTurn(ask)))
    )
  }
  if (!Pull.isDoneCause(cause)) return attemptFailed(ask, phase, cause)
  // not committed, so the turn never stopped: its result is the "ended without message_stop" error
  return attemptFailed(ask, phase, Cause.fail(phase.turn.result()))
}

/** The attempt failed: its scope closes (aborting the request), then it is retried or the ask fails. */
const attemptFailed = (ask: Ask, phase: Extract<Phase, { _tag: "Model" }>, cause: Cause.Cause<unknown>): Step => {
  ask.trace.attemptFailed(phase.turn, cause)
  return Effect.andThen(
    Scope.close(phase.scope, Exit.failCause(cause)),
    Effect.suspend(() => retryOrFail(ask, phase, cause))
  )
}

/**
 * Retries a retryable failure after the schedule's delay (a fresh attempt; after partial output
 * a `discard` event first), or fails the ask. Giving up leaves the attempt in progress for
 * {@link repair}, which keeps its partial text by policy and counts its usage.
 */
const retryOrFail = (ask: Ask, phase: Extract<Phase, { _tag: "Model" }>, cause: Cause.Cause<unknown>): Step => {
  const failure = Cause.findErrorOption(cause)
  if (Cause.hasInterrupts(cause) || Option.isNone(failure))
    return end(ask, Effect.failCause(cause as Cause.Cause<never>))
  const error = failure.value
  const giveUp = () => end(ask, Effect.fail(withPartial(error, ask.state.partial()) as HarnessError))
  return Effect.flatMap(Effect.exit(retryDelay(ask.config, ask.state, error, ask.wallNow())), (delay): Step => {
    if (Exit.isFailure(delay)) return giveUp()
    const { state } = ask
    ask.trace.retrying(phase.attempt + 1, delay.value, error)
    state.usage = Usage.add(state.usage, phase.turn.usage)
    state.control.account(phase.turn.model, phase.turn.usage)
    state.turn = undefined
    const backoff = backoffPhase(ask, phase.attempt, delay.value)
    if (!phase.turn.emitted) {
      state.phase = backoff
      return backoff.next
    }
    const reason = (error as { readonly message?: unknown }).message
    return emit(ask, [{ type: "discard", attempt: phase.attempt, reason: String(reason) }], backoff)
  })
}

/** Waits `delay`, then starts the next attempt; when the turn's deadline comes first, fails at it. */
const backoffPhase = (ask: Ask, attempt: number, delay: Duration.Duration): Phase => {
  const deadline = ask.state.turnDeadline
  const remaining = deadline === undefined ? undefined : deadline - ask.now()
  const next: Step =
    remaining !== undefined && remaining <= Duration.toMillis(delay)
      ? Effect.andThen(Effect.sleep(Math.max(0, remaining)), failTurn(ask))
      : Effect.andThen(
          Effect.sleep(delay),
          Effect.suspend(() => startAttempt(ask, attempt + 1))
        )
  return { _tag: "Backoff", next }
}

// commit the turn

/** Commits the completed turn: its content (what may be sent back) to the history, its usage to the run. */
const commitTurn = (
  ask: Ask,
  phase: Extract<Phase, { _tag: "Model" }>,
  response: TurnResult
): Effect.Effect<void, HarnessError> => {
  const { state } = ask
  phase.committed = true
  ask.trace.attemptCompleted(phase.turn, response.content)
  state.turn = undefined
  state.response = response
  state.usage = Usage.add(state.usage, response.usage)
  state.control.account(response.model, response.usage)
  state.control.closeTurn()
  state.answeredBy.push({ provider: phase.turn.answeredBy, model: response.model ?? ask.config.provider.info.model })
  const uses = Message.toolUses(response.content)
  state.pending = uses.length > 0 ? uses : undefined
  return ask.session.commit([turnStep(response.content, response.usage)], { askUsage: state.usage })
}

/** After a committed turn: its tool calls, the next turn, or the end. */
const afterTurn = (ask: Ask): Step => {
  const { state, config } = ask
  const response = state.response!
  const uses = state.pending ?? []
  const atLimit = state.turns >= config.maxTurns
  if (uses.length > 0 && (response.stopReason === "max_tokens" || atLimit)) {
    const why =
      response.stopReason === "max_tokens"
        ? "Not run: your output hit max_tokens before this turn finished, so its tool calls may be cut short. " +
          "Call the tool again (with shorter input if it was long)."
        : `Not run: the turn limit (${config.maxTurns}) was reached.`
    const events = answerAll(ask, uses, why)
    const then = atLimit ? finish(ask, "max_turns", response) : startingPhase(ask)
    return Effect.andThen(commitResults(ask), emit(ask, events, then))
  }
  if (uses.length > 0) {
    return startTools(ask, uses, () => afterTurnHooks(ask, () => afterTools(ask, uses, () => startTurn(ask))))
  }
  // a paused server-tool turn is continued by sending it back; past the limit it is unfinished
  if (response.stopReason === "pause_turn" && !atLimit) return startTurn(ask)
  return afterTurnHooks(ask, () => {
    const reminded = response.stopReason === "pause_turn" ? undefined : beforeEnd(ask, () => startTurn(ask))
    if (reminded !== undefined) return reminded
    const ended = finish(ask, response.stopReason === "pause_turn" ? "max_turns" : "completed", response)
    state.phase = ended
    return ended.next
  })
}

// the end

/** A model turn starts at the next pull. */
const startingPhase = (ask: Ask): Phase => ({ _tag: "Starting", next: Effect.suspend(() => startTurn(ask)) })

/** The run ends with `status`: the stream ends, or fails with `onMaxTurns` at the turn limit. */
const finish = (ask: Ask, status: RunResult["status"], response: TurnResult): Phase => {
  ask.state.ending = { status, response }
  const onMaxTurns = ask.options?.onMaxTurns
  return {
    _tag: "Ended",
    next:
      status === "max_turns" && onMaxTurns !== undefined ? Effect.fail(onMaxTurns(ask.state.result())) : Cause.done()
  }
}

/**
 * Runs when the ask's stream closes, however it ends: pending tool calls get results, the turn
 * in progress is kept (its text) or dropped by policy, the run's usage is added to the session's,
 * and a completed run reports its result.
 */
const repair = (ask: Ask, exit: Exit.Exit<unknown, unknown>): Effect.Effect<void> =>
  Effect.suspend(() => {
    const { state, session, config } = ask
    const steps: Array<SessionStep> = state.pending === undefined ? [] : [resultsStep(ask)]
    const turn = state.turn
    ask.trace.ended(exit, turn)
    state.turn = undefined
    if (turn !== undefined) {
      state.usage = Usage.add(state.usage, turn.usage)
      state.control.account(turn.model, turn.usage)
    }
    state.control.end()
    if (turn !== undefined && config.partialTurn === "keep") steps.push(turnStep(keptOfPartial(turn), Usage.empty))
    // one commit with the run's usage not yet committed; a store that fails it marks the session
    // for a reload at its next ask (this runs as the ask closes: there is nobody to fail)
    const committed = Effect.ignore(session.commit(steps, { askUsage: state.usage }))
    return Effect.andThen(
      committed,
      Effect.sync(() => {
        const onResult = ask.options?.onResult
        if (state.ending !== undefined && onResult !== undefined) onResult(state.result())
      })
    )
  })

/** Fails with the turn's timeout (its partial output as it is when it fires). */
const failTurn = (ask: Ask): Effect.Effect<never, Timeout> =>
  Effect.suspend(() => Effect.fail(timeoutError("turn", ask.config.timeouts.turn!, ask.state, "The model turn")))
