/**
 * The ask's first request, refused: a provider checks a request's parameters (and the blocks it
 * can carry) before it sends it, and fails with `InvalidOptions`; such an ask never reached the
 * model, so it leaves the session as it found it. Registered by the loop as a finaliser of the
 * ask's scope, after the repair (so it runs before it).
 *
 * @internal
 */
import { Cause, Effect, Exit, Option, Ref } from "effect"
import { InvalidOptions } from "../core/HarnessError.js"
import type * as Message from "../core/Message.js"
import type { Ask } from "./askState.js"

/**
 * When the provider refused the ask's first request before sending it (`InvalidOptions`: a
 * parameter or a block it cannot take), the ask never reached the model: the history goes back
 * to what it was before the prompt (`before`), so the session is unchanged. With a session store
 * the prompt was committed already: the session is reloaded from the store at its next ask.
 * @internal
 */
export const rollback =
  (ask: Ask, before: Message.History) =>
  (exit: Exit.Exit<unknown, unknown>): Effect.Effect<void> =>
    Effect.suspend(() => {
      const { state } = ask
      if (Exit.isSuccess(exit) || state.turns !== 1 || state.attempts !== 1 || state.response !== undefined) {
        return Effect.void
      }
      if (state.turn?.emitted === true) return Effect.void
      const error = Cause.findErrorOption(exit.cause)
      if (Option.isNone(error) || !(error.value instanceof InvalidOptions)) return Effect.void
      // with a store, what was committed stays (the prompt, calls it superseded): the next ask
      // reloads the session from the store, so memory and store agree
      const stored = ask.session.stored
      if (stored !== undefined) {
        stored.diverged = true
        return Effect.void
      }
      return Ref.set(ask.session.history, before)
    })
