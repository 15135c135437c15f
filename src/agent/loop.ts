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
 * `repair` (`askEnd.ts`) answers every `tool_use` that has no result with a synthetic error
 * result and keeps or drops the turn in progress by policy. The one exception is a call waiting
 * for approval in a stored session: it stays open for {@link resume} (`pause.ts`).
 *
 * A retryable failure of a turn's attempt is retried by `retry.ts`.
 *
 * @internal
 */
import { Cause, Channel, type Clock, Duration, Effect, Exit, Pull, Ref, Scope, Stream } from "effect"
import type { HarnessError } from "../core/HarnessError.js"
import { type NothingToResume, ProviderError } from "../core/HarnessError.js"
import * as Message from "../core/Message.js"
import type * as StreamEvent from "../core/StreamEvent.js"
import { TurnAccumulator, type TurnResult } from "../core/TurnAccumulator.js"
import * as Usage from "../core/Usage.js"
import type * as Provider from "../provider/Provider.js"
import { monotonicMillis, withPullDeadlines } from "../provider/pullDeadline.js"
import { turnStep } from "../store/Step.js"
import type { StoreError } from "../store/StoreError.js"
import * as Trace from "../telemetry/trace.js"
import * as Tool from "../tools/Tool.js"
import { afterTools, beforeEnd } from "./answerTurns.js"
import { failTurn, finish, repair } from "./askEnd.js"
import {
  type Ask,
  type AskOptions,
  AskState,
  type Events,
  emit,
  type Phase,
  type Step,
  timeoutError
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
import { commitPrompt, resumeAt } from "./pause.js"
import { retryOrFail } from "./retry.js"
import type { SessionState } from "./sessionState.js"
import { answerAll, commitResults, startTools } from "./toolRun.js"

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
    Channel.fromTransform((_, scope) =>
      Effect.suspend(() => start(config, session, options, scope, (ask) => begin(ask, commitPrompt(ask, prompt))))
    )
  )

/**
 * The ask an earlier one left off (see `pause.ts`), as a stream: the calls it left waiting for
 * approval, or the model turn its last user message waits for, then on as any ask.
 * @internal
 */
export const resume = (
  config: Config,
  session: SessionState,
  options?: AskOptions
): Stream.Stream<StreamEvent.StreamEvent, HarnessError | NothingToResume> =>
  Stream.fromChannel(
    Channel.fromTransform((_, scope) =>
      Effect.suspend(() =>
        start(config, session, options, scope, (ask) =>
          begin(
            ask,
            resumeAt(ask, (uses) => afterTurnHooks(ask, () => afterTools(ask, uses, () => startTurn(ask))))
          )
        )
      )
    )
  )

// prompt

/** The caller's acquisition (a session's turn), the session, then the ask's first pull (`begin`). */
const start = <E>(
  config: Config,
  given: SessionState | Effect.Effect<SessionState, never, Scope.Scope>,
  options: AskOptions | undefined,
  scope: Scope.Scope,
  begin: (ask: Ask) => Effect.Effect<Step, E>
): Effect.Effect<Step, E | StoreError> => {
  // a session whose last store write failed goes back to what its store holds first
  const withSession = (session: SessionState) =>
    Effect.andThen(
      session.resync,
      Effect.clockWith((clock) =>
        Effect.flatMap(Trace.start({ provider: config.provider.info }), (trace) =>
          begin(makeAsk(config, session, options, scope, clock, trace))
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
 * Runs `first` (commit the prompt, or find where to resume) with the repair in place, and returns
 * the ask's pull, under the run's limit when one is set (it starts here, after the acquisition:
 * waiting for the session's turn is not running).
 */
const begin = <E>(ask: Ask, first: Effect.Effect<void, E>): Effect.Effect<Step, E> =>
  Effect.andThen(
    Effect.andThen(
      Scope.addFinalizerExit(ask.scope, (exit) => repair(ask, exit)),
      // registered after the repair, so it runs first
      Scope.addFinalizerExit(ask.scope, rollback(ask, Ref.getUnsafe(ask.session.history)))
    ),
    Effect.andThen(
      first,
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
    Effect.suspend(() => retryOrFail(ask, phase, cause, (next) => startAttempt(ask, next)))
  )
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
