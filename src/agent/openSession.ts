/**
 * Sessions and one-shot runs over an agent's configuration: the `Session` object (its asks
 * serialised by a semaphore, its state in the session's scope) and the asks of `agent.run*`,
 * each in a fresh session state made and released in the ask's own stream scope.
 *
 * @internal
 */
import * as Crypto from "node:crypto"
import { Effect, Ref, type Scope, Semaphore, Stream } from "effect"
import * as Approval from "../control/Approval.js"
import type * as Budget from "../control/Budget.js"
import { compactSession } from "../control/compact.js"
import { type SessionControl, sessionControl } from "../control/control.js"
import { resolveLimits } from "../control/limits.js"
import { InvalidOptions, MaxTurnsExceeded, Partial } from "../core/HarnessError.js"
import type { RunResult } from "../core/RunResult.js"
import type * as StreamEvent from "../core/StreamEvent.js"
import type * as Data from "../data/Data.js"
import type * as SessionStore from "../store/SessionStore.js"
import { approvalDecidedStep, compactedStep, usageStep, type WaitingApproval } from "../store/Step.js"
import { StoreError } from "../store/StoreError.js"
import { type Config, withAskOptions } from "./config.js"
import * as Loop from "./loop.js"
import { resolvePrompt } from "./prompt.js"
import type * as Session from "./Session.js"
import { makeSessionState, makeStoredState, type SessionState, type StartFrom } from "./sessionState.js"

const maxTurnsError = (config: Config, result: RunResult) =>
  new MaxTurnsExceeded({
    maxTurns: config.maxTurns,
    message:
      `The model still wanted tools after ${config.maxTurns} turns (the maxTurns limit). ` +
      `Raise maxTurns, or narrow the question; the history holds every turn so far.`,
    partial: new Partial({ text: result.text, content: [], usage: result.usage })
  })

/** One ask with its own options; invalid ones (or an invalid prompt) fail it before it starts, so nothing is added. */
const askWith = (
  config: Config,
  session: SessionState | Effect.Effect<SessionState, never, Scope.Scope>,
  prompt: Session.Prompt,
  options: Session.AskOptions | undefined,
  loopOptions: Loop.AskOptions
): Stream.Stream<StreamEvent.StreamEvent, Session.TypedError> => {
  const asked = withAskOptions(config, options)
  if (asked instanceof InvalidOptions) return Stream.fail(asked)
  const blocks = resolvePrompt(prompt)
  if (blocks instanceof InvalidOptions) return Stream.fail(blocks)
  return Loop.ask(asked, session, blocks, loopOptions)
}

/** Runs an ask's stream to its end for its result. */
const resultOf = <E>(
  events: (onResult: (result: RunResult) => void) => Stream.Stream<StreamEvent.StreamEvent, E>
): Effect.Effect<RunResult, E> =>
  Effect.suspend(() => {
    let result: RunResult | undefined
    return Effect.map(
      Stream.runDrain(
        events((r) => {
          result = r
        })
      ),
      () => result!
    )
  })

/** The final text of a result, or `MaxTurnsExceeded` when it hit the turn limit. */
const textOf = (config: Config, result: RunResult): Effect.Effect<string, Session.TypedError> =>
  result.status === "max_turns" ? Effect.fail(maxTurnsError(config, result)) : Effect.succeed(result.text)

/**
 * One ask in a fresh session, streamed (`agent.runStream`): the session's state is made in the
 * stream's scope and released (its database closed) when the stream ends, however it ends.
 * No session object and no lock: nobody else can ask in it.
 * @internal
 */
export const streamOnce = (
  config: Config,
  prompt: Session.Prompt,
  options?: Session.AskOptions
): Stream.Stream<StreamEvent.StreamEvent, Session.TypedError> =>
  askWith(config, makeSessionState(config), prompt, options, {
    onMaxTurns: (result) => maxTurnsError(config, result)
  })

/**
 * One ask in a fresh session for its result (`agent.runResult`), released when it ends.
 * @internal
 */
export const resultOnce = (
  config: Config,
  prompt: Session.Prompt,
  options?: Session.AskOptions
): Effect.Effect<RunResult, Session.TypedError> =>
  resultOf((onResult) => askWith(config, makeSessionState(config), prompt, options, { onResult }))

/**
 * One ask in a fresh session for its final text (`agent.run`), released when it ends.
 * @internal
 */
export const runOnce = (config: Config, prompt: Session.Prompt, options?: Session.AskOptions) =>
  Effect.flatMap(resultOnce(config, prompt, options), (result) => textOf(config, result))

/**
 * A session over a loop configuration (`agent.session`), its state released when `Scope` closes.
 * @internal
 */
export const open = (
  config: Config,
  from?: (StartFrom & { readonly id?: string | undefined; readonly budget?: Budget.Limits | undefined }) | undefined
): Effect.Effect<Session.Session<unknown, Session.TypedError>, never, Scope.Scope> =>
  Effect.map(makeSessionState(config, from), (state) => sessionOf(config, state, from))

/**
 * A session kept in a session store (just loaded or created), its state released when `Scope`
 * closes: every step its asks commit is written to the store before the next model call.
 * @internal
 */
export const openStored = (
  config: Config,
  store: SessionStore.Service,
  stored: SessionStore.StoredSession,
  from?: { readonly data?: Data.Store | undefined; readonly budget?: Budget.Limits | undefined } | undefined
): Effect.Effect<Session.Session<unknown, Session.TypedError>, StoreError, Scope.Scope> =>
  Effect.map(makeStoredState(config, store, stored, from?.data), (state) =>
    sessionOf(config, state, { budget: from?.budget })
  )

/** The `Session` object over a session's state. */
const sessionOf = (
  config: Config,
  state: SessionState,
  from: { readonly id?: string | undefined; readonly budget?: Budget.Limits | undefined } | undefined
): Session.Session<unknown, Session.TypedError> => {
  const limits = resolveLimits("budget", from?.budget)
  // an invalid budget fails every ask of the session with what is wrong with it
  const invalid = limits instanceof InvalidOptions ? limits : undefined
  const control = sessionControl(state, config.control, limits instanceof InvalidOptions ? undefined : limits)
  const semaphore = Semaphore.makeUnsafe(1)
  // interruptible: an ask waiting its turn can be interrupted or timed out while it waits
  const turn = Effect.asVoid(
    Effect.acquireRelease(semaphore.take(1), () => semaphore.release(1), { interruptible: true })
  )
  // calls a stored session was loaded waiting for: decidable now, continued by `resume`; after a
  // reload from the store (a failed write), the store's waiting calls replace what memory had
  const restore = (waiting: ReadonlyArray<WaitingApproval>) =>
    control.approvals.replace(
      waiting.map(({ decision, ...pending }) => ({ pending: new Approval.Pending(pending), decision }))
    )
  restore(state.waiting)
  state.onResync = restore
  /** With a session store, a change to the handles is committed before it returns. */
  const committed = <A, E>(effect: Effect.Effect<A, E>): Effect.Effect<A, E | StoreError> =>
    state.stored === undefined ? effect : Effect.tap(effect, () => state.commit([]))
  return {
    id: state.stored?.key.id ?? from?.id ?? Crypto.randomUUID(),
    ...asksOf(config, state, invalid, turn),
    history: Ref.get(state.history),
    usage: Ref.get(state.usage),
    put: (name, value, options) => committed(Effect.suspend(() => state.data.put(name, value, options))),
    putFile: (name, path, options) => committed(Effect.suspend(() => state.data.putFile(name, path, options))),
    remove: (name) => committed(Effect.suspend(() => state.data.remove(name))),
    handles: Effect.suspend(() => state.data.list),
    lineage: (name) => Effect.suspend(() => state.data.lineage(name)),
    fork: (options) => forkOf(config, state, options),
    get data() {
      return state.data
    },
    close: state.closeData,
    ...controlOf(config, state, control, turn)
  }
}

type Asks = Pick<
  Session.Session<unknown, Session.TypedError>,
  "ask" | "askResult" | "askStream" | "resume" | "resumeResult" | "resumeStream"
>

/** A session's asks and resumes, one at a time (`turn`); each fails with `invalid` when the session's budget is. */
const asksOf = (
  config: Config,
  state: SessionState,
  invalid: InvalidOptions | undefined,
  turn: Effect.Effect<void, never, Scope.Scope>
): Asks => {
  const events = (prompt: Session.Prompt, options: Session.AskOptions | undefined, loopOptions: Loop.AskOptions) =>
    invalid !== undefined
      ? Stream.fail(invalid)
      : askWith(config, state, prompt, options, { acquire: turn, ...loopOptions })
  const askResult = (prompt: Session.Prompt, options?: Session.AskOptions) =>
    resultOf((onResult) => events(prompt, options, { onResult }))
  const resumed = (options: Session.AskOptions | undefined, loopOptions: Loop.AskOptions) => {
    const asked = invalid ?? withAskOptions(config, options)
    return asked instanceof InvalidOptions
      ? Stream.fail(asked)
      : Loop.resume(asked, state, { acquire: turn, ...loopOptions })
  }
  const resumeResult = (options?: Session.AskOptions) => resultOf((onResult) => resumed(options, { onResult }))
  const onMaxTurns = (result: RunResult) => maxTurnsError(config, result)
  return {
    askResult,
    ask: (prompt: Session.Prompt, options?: Session.AskOptions) =>
      Effect.flatMap(askResult(prompt, options), (result) => textOf(config, result)),
    askStream: (prompt: Session.Prompt, options?: Session.AskOptions) => events(prompt, options, { onMaxTurns }),
    resume: (options?: Session.AskOptions) => Effect.flatMap(resumeResult(options), (result) => textOf(config, result)),
    resumeResult,
    resumeStream: (options?: Session.AskOptions) => resumed(options, { onMaxTurns })
  }
}

/** A session's approvals, compactions and costs (its control state). */
const controlOf = (
  config: Config,
  state: SessionState,
  control: SessionControl,
  turn: Effect.Effect<void, never, Scope.Scope>
): Pick<
  Session.Session<unknown, Session.TypedError>,
  "approve" | "deny" | "approvals" | "compact" | "compactions" | "cost" | "spent"
> => ({
  approve: (id, options) =>
    decideKept(state, control, id, {
      _tag: "Approved",
      ...(options !== undefined && "input" in options ? { input: options.input } : {})
    }),
  deny: (id, reason) => decideKept(state, control, id, { _tag: "Denied", reason }),
  approvals: Effect.sync(() => control.approvals.pending),
  compact: Effect.scoped(
    Effect.andThen(
      turn,
      compactSession(
        config,
        {
          history: state.history,
          data: state.data,
          replace: (history, usage) => state.commit([compactedStep(history), usageStep(usage)])
        },
        control
      )
    )
  ),
  compactions: Effect.sync(() => [...control.compactions]),
  cost: Effect.sync(() => control.meter.cost),
  spent: Effect.sync(() => control.meter.spent())
})

/** Decides a waiting call; with a session store the decision is committed first, so it outlives the process. */
const decideKept = (state: SessionState, control: SessionControl, id: string, decision: Approval.Decision) =>
  control.approvals.decide(
    id,
    decision,
    state.stored === undefined
      ? undefined
      : state.commit([approvalDecidedStep(id, decision as Parameters<typeof approvalDecidedStep>[1])])
  )

/** A copy of a stored session under a new id, its handles' data shared: what it has committed, with its handles. */
const forkOf = (
  config: Config,
  state: SessionState,
  options: { readonly id?: string | undefined } | undefined
): Effect.Effect<Session.Session<unknown, Session.TypedError>, StoreError, Scope.Scope> => {
  const stored = state.stored
  if (stored === undefined) {
    return Effect.fail(
      new StoreError({
        reason: "InvalidInput",
        message:
          "Forking copies a session in its session store, and this session has none: " +
          "provide a SessionStore layer (or Agent.make({ store })) before making the session."
      })
    )
  }
  return Effect.gen(function* () {
    // handles changed through session.data since the last commit go with the copy
    yield* state.commit([])
    const forked = yield* stored.store.fork(stored.key, options)
    return yield* openStored(config, stored.store, forked)
  })
}
