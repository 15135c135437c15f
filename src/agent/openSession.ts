/**
 * Sessions and one-shot runs over an agent's configuration: the `Session` object (its asks
 * serialised by a semaphore, its state in the session's scope) and the asks of `agent.run*`,
 * each in a fresh session state made and released in the ask's own stream scope.
 *
 * @internal
 */
import { Effect, Ref, type Scope, Semaphore, Stream } from "effect"
import type { HarnessError } from "../core/HarnessError.js"
import { InvalidOptions, MaxTurnsExceeded, Partial } from "../core/HarnessError.js"
import * as Message from "../core/Message.js"
import type { RunResult } from "../core/RunResult.js"
import type * as StreamEvent from "../core/StreamEvent.js"
import { type Config, withAskTimeouts } from "./config.js"
import * as Loop from "./loop.js"
import type * as Session from "./Session.js"
import { makeSessionState, type SessionState, type StartFrom } from "./sessionState.js"

const maxTurnsError = (config: Config, result: RunResult) =>
  new MaxTurnsExceeded({
    maxTurns: config.maxTurns,
    message:
      `The model still wanted tools after ${config.maxTurns} turns (the maxTurns limit). ` +
      `Raise maxTurns, or narrow the question; the history holds every turn so far.`,
    partial: new Partial({ text: result.text, content: [], usage: result.usage })
  })

/** The prompt as the user message's blocks, or why it cannot be one (the API rejects empty text). */
const promptBlocks = (prompt: string): ReadonlyArray<Message.ContentBlock> | InvalidOptions =>
  typeof prompt === "string" && /\S/.test(prompt)
    ? [Message.text(prompt)]
    : new InvalidOptions({
        option: "prompt",
        message: `The prompt is ${typeof prompt === "string" ? "empty or whitespace only" : `a ${typeof prompt}, not a string`}; ask with some text.`
      })

/** One ask with its own options; invalid ones (or an empty prompt) fail it before it starts, so nothing is added. */
const askWith = (
  config: Config,
  session: SessionState | Effect.Effect<SessionState, never, Scope.Scope>,
  prompt: string,
  options: Session.AskOptions | undefined,
  loopOptions: Loop.AskOptions
): Stream.Stream<StreamEvent.StreamEvent, HarnessError> => {
  const asked = withAskTimeouts(config, options?.timeouts)
  if (asked instanceof InvalidOptions) return Stream.fail(asked)
  const blocks = promptBlocks(prompt)
  if (blocks instanceof InvalidOptions) return Stream.fail(blocks)
  return Loop.ask(asked, session, blocks, loopOptions)
}

/** Runs an ask's stream to its end for its result. */
const resultOf = (
  events: (onResult: (result: RunResult) => void) => Stream.Stream<StreamEvent.StreamEvent, HarnessError>
): Effect.Effect<RunResult, HarnessError> =>
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
const textOf = (config: Config, result: RunResult): Effect.Effect<string, HarnessError> =>
  result.status === "max_turns" ? Effect.fail(maxTurnsError(config, result)) : Effect.succeed(result.text)

/**
 * One ask in a fresh session, streamed (`agent.runStream`): the session's state is made in the
 * stream's scope and released (its database closed) when the stream ends, however it ends.
 * No session object and no lock: nobody else can ask in it.
 * @internal
 */
export const streamOnce = (
  config: Config,
  prompt: string,
  options?: Session.AskOptions
): Stream.Stream<StreamEvent.StreamEvent, HarnessError> =>
  askWith(config, makeSessionState(config), prompt, options, {
    onMaxTurns: (result) => maxTurnsError(config, result)
  })

/**
 * One ask in a fresh session for its result (`agent.runResult`), released when it ends.
 * @internal
 */
export const resultOnce = (
  config: Config,
  prompt: string,
  options?: Session.AskOptions
): Effect.Effect<RunResult, HarnessError> =>
  resultOf((onResult) => askWith(config, makeSessionState(config), prompt, options, { onResult }))

/**
 * One ask in a fresh session for its final text (`agent.run`), released when it ends.
 * @internal
 */
export const runOnce = (config: Config, prompt: string, options?: Session.AskOptions) =>
  Effect.flatMap(resultOnce(config, prompt, options), (result) => textOf(config, result))

/**
 * A session over a loop configuration (`agent.session`), its state released when `Scope` closes.
 * @internal
 */
export const open = (
  config: Config,
  from?: StartFrom | undefined
): Effect.Effect<Session.Session, never, Scope.Scope> =>
  Effect.map(makeSessionState(config, from), (state) => {
    const semaphore = Semaphore.makeUnsafe(1)
    // interruptible: an ask waiting its turn can be interrupted or timed out while it waits
    const turn = Effect.asVoid(
      Effect.acquireRelease(semaphore.take(1), () => semaphore.release(1), { interruptible: true })
    )
    const events = (prompt: string, options: Session.AskOptions | undefined, loopOptions: Loop.AskOptions) =>
      askWith(config, state, prompt, options, { acquire: turn, ...loopOptions })
    const askResult = (prompt: string, options?: Session.AskOptions) =>
      resultOf((onResult) => events(prompt, options, { onResult }))
    const session: Session.Session = {
      askResult,
      ask: (prompt, options) => Effect.flatMap(askResult(prompt, options), (result) => textOf(config, result)),
      askStream: (prompt, options) =>
        events(prompt, options, { onMaxTurns: (result) => maxTurnsError(config, result) }),
      history: Ref.get(state.history),
      usage: Ref.get(state.usage),
      put: (name, value, options) => Effect.suspend(() => state.data.put(name, value, options)),
      putFile: (name, path, options) => Effect.suspend(() => state.data.putFile(name, path, options)),
      handles: Effect.suspend(() => state.data.list),
      get data() {
        return state.data
      },
      close: state.closeData
    }
    return session
  })
