/**
 * A session's state: its history, usage totals and visible tools in `Ref`s, its data store (a
 * resource of the session's scope), and, with a session store, where it is kept.
 *
 * The data store is made on first use (an ask that never touches data, most streaming asks, pays
 * nothing for it, and its DuckDB opens only when SQL needs it) and closed when the session's
 * scope closes, on success, failure and interruption alike: `Effect.acquireRelease` over the
 * lazy holder, whose release closes the store if it was made.
 *
 * Every change to the history and usage goes through {@link SessionState.commit}, one function:
 * it applies the steps to the `Ref`s by the history rules (`history.ts`), and with a session
 * store writes them in one store commit, together with the data handles changed since the last
 * commit (`data/persistence.ts`), before it returns: so a step the loop committed is in the store
 * before the next model call. A store write that fails fails the commit (and the ask) with the
 * `StoreError`; the `Ref`s already hold the step, and the next ask starts by reloading the
 * session from the store ({@link SessionState.resync}), so memory goes back to what is durable.
 *
 * @internal
 */

import { Effect, Ref, type Scope, Semaphore } from "effect"
import type { Counts } from "../core/counts.js"
import type * as Message from "../core/Message.js"
import * as Usage from "../core/Usage.js"
import type * as Data from "../data/Data.js"
import { HandlePersistence } from "../data/persistence.js"
import { isPersistentStore, makeStoreUnsafe, type PersistentStore } from "../data/store.js"
import type * as SessionStore from "../store/SessionStore.js"
import type { Step, WaitingApproval } from "../store/Step.js"
import { StoreError } from "../store/StoreError.js"
import type { Config } from "./config.js"
import { appendAssistant, appendUser, repairHistory } from "./history.js"
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
  /** Where the session is kept, with a session store. */
  readonly stored: Stored | undefined
  /**
   * Commits steps: to the `Ref`s, then (with a session store) to the store with the changed
   * handles, in one transaction. `askUsage` is the ask's usage so far: what of it no committed
   * turn carries goes with the commit as a `Usage` step (a retried turn's discarded attempts, a
   * partial turn). `startsAsk`: the steps are an ask's prompt (the ask's usage starts over).
   */
  readonly commit: (
    steps: ReadonlyArray<Step>,
    options?: { readonly askUsage?: Counts | undefined; readonly startsAsk?: boolean | undefined }
  ) => Effect.Effect<void, StoreError>
  /** After a failed store write: the history, usage and commit number reloaded from the store. */
  readonly resync: Effect.Effect<void, StoreError>
  /** The calls the stored session was loaded waiting for approval (a durable pause). */
  readonly waiting: ReadonlyArray<WaitingApproval>
  /** Called with the calls waiting in the store each time `resync` reloads the session. */
  onResync: ((waiting: ReadonlyArray<WaitingApproval>) => void) | undefined
}

/**
 * A session in a session store: the store, its key, and its last commit number.
 * @internal
 */
export interface Stored {
  readonly store: SessionStore.Service
  readonly key: SessionStore.SessionKey
  /** The number of the session's last commit this process knows of (`expectedSeq` of the next). */
  seq: number
  /** Whether a store write failed since the last resync. */
  diverged: boolean
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
 * used, never closed. With a session store, the store made is kept there (`persistence`).
 */
class LazyStore {
  private made: PersistentStore | undefined = undefined
  private released = false
  persistence: HandlePersistence | undefined = undefined

  constructor(
    private readonly given: Data.Store | undefined,
    private readonly sink: ((data: PersistentStore) => HandlePersistence) | undefined
  ) {
    if (given !== undefined && sink !== undefined && isPersistentStore(given)) this.persistence = sink(given)
  }

  get store(): Data.Store {
    if (this.given !== undefined) return this.given
    if (this.made === undefined) {
      if (this.released) {
        throw new Error(
          "This session's scope is closed, and its data with it: make a new session (agent.session()) inside a scope."
        )
      }
      this.made = makeStoreUnsafe()
      if (this.sink !== undefined) this.persistence = this.sink(this.made)
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
 * Usage counters summed as plain numbers: a commit adds a turn's usage to the session's and to
 * the ask's committed usage, and building a schema-checked `Usage` for each sum was a measurable
 * part of a turn's fixed cost. The session's `Usage` is built once per commit that changes it.
 */
const zero: Counts = { inputTokens: 0, outputTokens: 0, cacheReadTokens: 0, cacheWriteTokens: 0 }

const plus = (a: Counts, b: Counts): Counts =>
  b === Usage.empty || isZero(b)
    ? a
    : isZero(a)
      ? b
      : {
          inputTokens: a.inputTokens + b.inputTokens,
          outputTokens: a.outputTokens + b.outputTokens,
          cacheReadTokens: a.cacheReadTokens + b.cacheReadTokens,
          cacheWriteTokens: a.cacheWriteTokens + b.cacheWriteTokens
        }

const minus = (a: Counts, b: Counts): Counts => ({
  inputTokens: a.inputTokens - b.inputTokens,
  outputTokens: a.outputTokens - b.outputTokens,
  cacheReadTokens: a.cacheReadTokens - b.cacheReadTokens,
  cacheWriteTokens: a.cacheWriteTokens - b.cacheWriteTokens
})

const isUsage = (counts: Counts): counts is Usage.Usage => counts instanceof Usage.Usage

const same = (a: Counts, b: Counts): boolean =>
  a.inputTokens === b.inputTokens &&
  a.outputTokens === b.outputTokens &&
  a.cacheReadTokens === b.cacheReadTokens &&
  a.cacheWriteTokens === b.cacheWriteTokens

const isZero = (usage: Counts): boolean =>
  usage.inputTokens === 0 && usage.outputTokens === 0 && usage.cacheReadTokens === 0 && usage.cacheWriteTokens === 0

/**
 * A new session's state, its data store released when the scope closes.
 * @internal
 */
export const makeSessionState = (
  config: Config,
  from?: StartFrom | undefined
): Effect.Effect<SessionState, never, Scope.Scope> =>
  Effect.map(
    Effect.acquireRelease(
      Effect.sync(() => new LazyStore(from?.data, undefined)),
      (lazy) => lazy.release
    ),
    (lazy) =>
      makeState(config, lazy, undefined, from?.history === undefined ? [] : repairHistory(from.history), Usage.empty)
  )

/**
 * The state of a session kept in a session store (loaded, or just created), its data store
 * released when the scope closes. Its handles are restored into a data store made now (the
 * database still opens only when SQL runs). `data`, when given, must come from `Data.makeStore`.
 * @internal
 */
export const makeStoredState = (
  config: Config,
  store: SessionStore.Service,
  session: SessionStore.StoredSession,
  data?: Data.Store | undefined
): Effect.Effect<SessionState, StoreError, Scope.Scope> =>
  Effect.gen(function* () {
    const stored: Stored = { store, key: { tenant: session.tenant, id: session.id }, seq: session.seq, diverged: false }
    if (data !== undefined && !isPersistentStore(data)) {
      return yield* new StoreError({
        reason: "InvalidInput",
        message:
          "A session kept in a session store needs its data in a store from Data.makeStore (or none): " +
          "the handles of another Data.Store cannot be stored."
      })
    }
    const sink = (made: PersistentStore) =>
      new HandlePersistence(made, {
        importData: (file) => store.importData(stored.key, file, { move: true }),
        dataPath: (ref) => store.dataPath(stored.key, ref)
      })
    const lazy = yield* Effect.acquireRelease(
      Effect.sync(() => new LazyStore(data, sink)),
      (lazy) => lazy.release
    )
    if (session.handles.length > 0) {
      // made now, so the stored handles are in it before anything else touches it
      const made = lazy.store
      if (made !== data || lazy.persistence !== undefined) yield* lazy.persistence!.restore(session.handles)
    }
    return makeState(config, lazy, stored, session.history, session.usage, session.approvals)
  })

/** What a commit's steps make of the history and usage. */
interface Applied {
  readonly history: Message.History
  readonly usage: Usage.Usage
  /** The steps to store (content as the history keeps it, empty ones left out). */
  readonly steps: Array<Step>
  /** The usage of the ask in progress that committed steps now carry. */
  readonly askCommitted: Counts
}

/**
 * Steps applied to `history` and `before` (the session's usage): the new values, and the steps to
 * store. `askCommitted` is what the ask's committed steps carried so far; with `askUsage` (the
 * ask's usage now) the rest that no step carries is added as a `Usage` step.
 */
const applySteps = (
  history: Message.History,
  before: Usage.Usage,
  committed: Counts,
  steps: ReadonlyArray<Step>,
  askUsage: Counts | undefined
): Applied => {
  const out: Array<Step> = []
  let h = history
  let u: Counts = before
  let askCommitted = committed
  for (const step of steps) {
    switch (step._tag) {
      case "User": {
        const next = appendUser(h, step.content)
        if (next !== h) out.push({ _tag: "User", content: next.at(-1)!.content.slice(-contentAdded(h, next)) })
        h = next
        break
      }
      case "ToolResults": {
        if (step.content.length === 0) break
        h = appendUser(h, step.content)
        out.push(step)
        break
      }
      case "Turn": {
        const next = appendAssistant(h, step.content)
        const content = next === h ? [] : next.at(-1)!.content.slice(-contentAdded(h, next))
        h = next
        u = plus(u, step.usage)
        askCommitted = plus(askCommitted, step.usage)
        if (content.length > 0 || !isZero(step.usage)) out.push({ _tag: "Turn", content, usage: step.usage })
        break
      }
      case "Compacted": {
        h = step.history
        out.push(step)
        break
      }
      case "Usage": {
        u = plus(u, step.usage)
        askCommitted = plus(askCommitted, step.usage)
        out.push(step)
        break
      }
      default:
        out.push(step)
    }
  }
  if (askUsage !== undefined) {
    const rest = minus(askUsage, askCommitted)
    if (!isZero(rest)) {
      u = plus(u, rest)
      out.push({ _tag: "Usage", usage: Usage.make(rest) })
    }
    askCommitted = askUsage
  }
  // a step's usage added to nothing is that usage, and a session's first ask has the usage of
  // the ask (both `Usage`s already): nothing to build then
  const total =
    u === before
      ? before
      : isUsage(u)
        ? u
        : askUsage !== undefined && isUsage(askUsage) && same(u, askUsage)
          ? askUsage
          : Usage.make(u)
  return { history: h, usage: total, steps: out, askCommitted }
}

/**
 * One store commit of `steps` and the changed handles, one at a time; a failure marks the state
 * diverged. Uninterruptible once it has its turn: a commit the store took is also the one this
 * process knows of (its `seq`), so the next commit (an interrupted ask's repair) is not refused.
 */
const writeCommit = (
  writes: Semaphore.Semaphore,
  lazy: LazyStore,
  target: Stored,
  steps: ReadonlyArray<Step>
): Effect.Effect<void, StoreError> =>
  writes.withPermit(
    Effect.uninterruptible(
      Effect.gen(function* () {
        const changes = lazy.persistence === undefined ? undefined : yield* lazy.persistence.changes
        const all = changes === undefined ? steps : [...steps, ...changes.steps]
        if (all.length === 0 || target.diverged) {
          changes?.settle(false)
          return
        }
        const seq = yield* target.store.commit(target.key, all, { expectedSeq: target.seq }).pipe(
          Effect.onError(() =>
            Effect.sync(() => {
              target.diverged = true
              changes?.settle(false)
            })
          )
        )
        target.seq = seq
        changes?.settle(true)
      })
    )
  )

const makeState = (
  config: Config,
  lazy: LazyStore,
  stored: Stored | undefined,
  initialHistory: Message.History,
  initialUsage: Usage.Usage,
  waiting: ReadonlyArray<WaitingApproval> = []
): SessionState => {
  const history = Ref.makeUnsafe<Message.History>(initialHistory)
  const usage = Ref.makeUnsafe(initialUsage)
  /** The usage of the ask in progress that committed steps carry. */
  let askCommitted: Counts = zero
  const writes = Semaphore.makeUnsafe(1)

  const commit: SessionState["commit"] = (steps, options) =>
    Effect.suspend(() => {
      if (options?.startsAsk === true) askCommitted = zero
      const applied = applySteps(Ref.getUnsafe(history), Ref.getUnsafe(usage), askCommitted, steps, options?.askUsage)
      askCommitted = applied.askCommitted
      const updated = Effect.andThen(Ref.set(history, applied.history), Ref.set(usage, applied.usage))
      return stored === undefined ? updated : Effect.andThen(updated, writeCommit(writes, lazy, stored, applied.steps))
    })

  const resync: SessionState["resync"] =
    stored === undefined
      ? Effect.void
      : writes.withPermit(
          Effect.suspend(() => {
            if (!stored.diverged) return Effect.void
            return Effect.flatMap(stored.store.load(stored.key), (session) => {
              stored.seq = session.seq
              stored.diverged = false
              state.onResync?.(session.approvals)
              return Effect.andThen(Ref.set(history, session.history), Ref.set(usage, session.usage))
            })
          })
        )

  const state: SessionState = {
    history,
    usage,
    visible: Ref.makeUnsafe(ToolIndex.of(config.tools).initiallyVisible),
    get data() {
      return lazy.store
    },
    closeData: lazy.close,
    stored,
    commit,
    resync,
    waiting,
    onResync: undefined
  }
  return state
}

/** How many blocks `next` added to the last message of `previous` (or the whole new last message). */
const contentAdded = (previous: Message.History, next: Message.History): number => {
  const last = next.at(-1)!
  const before = previous.at(-1)
  return next.length === previous.length && before !== undefined
    ? last.content.length - before.content.length
    : last.content.length
}
