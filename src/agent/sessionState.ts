/**
 * A session's state: its history, usage totals and visible tools in `Ref`s, and its data store,
 * a resource of the session's scope.
 *
 * The store is made on first use (an ask that never touches data, most streaming asks, pays
 * nothing for it, and its DuckDB opens only when SQL needs it) and closed when the session's
 * scope closes, on success, failure and interruption alike: `Effect.acquireRelease` over the
 * lazy holder, whose release closes the store if it was made.
 *
 * @internal
 */

import { Effect, Ref, type Scope } from "effect"
import type * as Message from "../core/Message.js"
import * as Usage from "../core/Usage.js"
import type * as Data from "../data/Data.js"
import { makeStoreUnsafe } from "../data/store.js"
import type { Config } from "./config.js"
import { repairHistory } from "./history.js"
import { ToolIndex } from "./toolCalls.js"

/**
 * The state an ask reads and commits to.
 * @internal
 */
export interface SessionState {
  readonly history: Ref.Ref<Message.History>
  readonly usage: Ref.Ref<Usage.Usage>
  readonly visible: Ref.Ref<ReadonlySet<string>>
  /** The session's handles: made on first use, closed with the session's scope. */
  readonly data: Data.Store
  /** Releases the store's database now (`session.close`); the store stays usable. */
  readonly closeData: Effect.Effect<void>
}

/**
 * Where a new session starts: a saved history (made valid to send) and a store the caller owns.
 * @internal
 */
export interface StartFrom {
  readonly history?: Message.History | undefined
  readonly data?: Data.Store | undefined
}

/**
 * The session's store, made on first use. A store given by the caller is the caller's: it is
 * used, never closed.
 */
class LazyStore {
  private made: Data.Store | undefined = undefined
  private released = false

  constructor(private readonly given: Data.Store | undefined) {}

  get store(): Data.Store {
    if (this.given !== undefined) return this.given
    if (this.made === undefined) {
      if (this.released) {
        throw new Error(
          "This session's scope is closed, and its data with it: make a new session (agent.session()) inside a scope."
        )
      }
      this.made = makeStoreUnsafe()
    }
    return this.made
  }

  /** Closes the store's database if the store was made (it reopens on demand). */
  readonly close: Effect.Effect<void> = Effect.suspend(() => this.made?.close ?? Effect.void)

  /** The end of the session's scope: the store is closed and not made again. */
  readonly release: Effect.Effect<void> = Effect.suspend(() => {
    this.released = true
    const made = this.made
    this.made = undefined
    return made?.close ?? Effect.void
  })
}

/**
 * A new session's state, its store released when the scope closes.
 * @internal
 */
export const makeSessionState = (
  config: Config,
  from?: StartFrom | undefined
): Effect.Effect<SessionState, never, Scope.Scope> =>
  Effect.map(
    Effect.acquireRelease(
      Effect.sync(() => new LazyStore(from?.data)),
      (lazy) => lazy.release
    ),
    (lazy): SessionState => ({
      history: Ref.makeUnsafe<Message.History>(from?.history === undefined ? [] : repairHistory(from.history)),
      usage: Ref.makeUnsafe(Usage.empty),
      visible: Ref.makeUnsafe(ToolIndex.of(config.tools).initiallyVisible),
      get data() {
        return lazy.store
      },
      closeData: lazy.close
    })
  )
