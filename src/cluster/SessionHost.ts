/**
 * How the `Session` entity opens the session it serves: "open a session by id", as a service, so
 * the entity does not know how sessions are stored and resumed.
 *
 * {@link layerStore} opens a stored session with the store's `load` and `agent.session({ history })`,
 * re-puts its stored handles, and commits what an ask added when the ask ends (in one commit, with
 * `expectedSeq`, so a second writer is a `Conflict` and never interleaves). It writes each ask's
 * events to the store's event log before they are sent on (the events that arrive while an append
 * is in flight go in the next one), and the ask's end after its last.
 *
 * @internal
 */
import { Context, Effect, Exit, Layer, Ref, Schema, type Scope, Stream } from "effect"
import * as Arr from "effect/Array"
import * as Agent from "../agent/Agent.js"
import type * as AgentSession from "../agent/Session.js"
import type { DataError, HarnessError, InvalidOptions } from "../core/HarnessError.js"
import type * as Message from "../core/Message.js"
import type * as StreamEvent from "../core/StreamEvent.js"
import * as Usage from "../core/Usage.js"
import type { Provider } from "../provider/Provider.js"
import * as SessionStore from "../store/SessionStore.js"
import { StoreError } from "../store/StoreError.js"
import { AskError } from "./SessionEntity.js"

/**
 * An event of an ask with its id in the ask's stored log.
 * @internal
 */
export interface LoggedEvent {
  readonly id: number
  readonly event: StreamEvent.StreamEvent
}

/**
 * A session opened for the entity, released with the entity's scope.
 * @internal
 */
export interface Hosted {
  /**
   * Runs one ask: starts its event log before anything runs, writes each event before it is
   * emitted, commits what the ask added and records its end, however it ends.
   */
  readonly ask: (askId: string, prompt: string) => Stream.Stream<LoggedEvent, HarnessError | StoreError>
  readonly history: Effect.Effect<Message.History>
  /** Usage over the session's whole life (what was stored plus this opening's asks). */
  readonly usage: Effect.Effect<Usage.Usage>
  /** Puts a JSON value and commits its handle. */
  readonly put: (
    name: string,
    value: Schema.Json,
    options: { readonly description?: string | undefined; readonly overwrite?: boolean | undefined }
  ) => Effect.Effect<string, DataError | StoreError>
}

/**
 * The service.
 * @internal
 */
export class SessionHost extends Context.Service<
  SessionHost,
  { readonly open: (key: SessionStore.SessionKey) => Effect.Effect<Hosted, StoreError, Scope.Scope> }
>()("data-harness/cluster/SessionHost") {}

/**
 * Sessions over the `SessionStore` and an agent with these options.
 * @internal
 */
export const layerStore = (
  options: Agent.Options<never>
): Layer.Layer<SessionHost, InvalidOptions, Provider | SessionStore.SessionStore> =>
  Layer.effect(
    SessionHost,
    Effect.gen(function* () {
      const agent = yield* Agent.make(options)
      const store = yield* SessionStore.SessionStore
      return { open: (key) => open(agent, store, key) }
    })
  )

const open = (agent: Agent.Agent, store: SessionStore.Service, key: SessionStore.SessionKey) =>
  Effect.gen(function* () {
    const stored = yield* store.load(key)
    const session = yield* agent.session({ history: stored.history })
    yield* Effect.forEach(stored.handles, (handle) => restoreHandle(store, key, session, handle), { discard: true })
    const committed = yield* Ref.make({ seq: stored.seq, history: yield* session.history })
    const sync = commitNew(store, key, session, committed)
    const hosted: Hosted = {
      ask: (askId, prompt) => runAsk(store, key, session, sync, askId, prompt),
      history: session.history,
      usage: Effect.map(session.usage, (usage) => Usage.add(stored.usage, usage)),
      put: (name, value, putOptions) =>
        Effect.gen(function* () {
          yield* sync(Usage.empty)
          const put = yield* session.put(name, value, putOptions)
          const handle = yield* session.data.get(put)
          const snapshot = JSON.parse(JSON.stringify(handle?.snapshot ?? { kind: "scalar" }))
          const description = putOptions.description
          const step = SessionStore.putHandleStep({
            name: put,
            snapshot,
            value,
            ...(description === undefined ? {} : { description })
          })
          const { seq } = yield* Ref.get(committed)
          const next = yield* store.commit(key, step, { expectedSeq: seq })
          yield* Ref.update(committed, (state) => ({ ...state, seq: next }))
          return put
        })
    }
    return hosted
  })

/** Puts a stored handle back into a freshly opened session. */
const restoreHandle = (
  store: SessionStore.Service,
  key: SessionStore.SessionKey,
  session: AgentSession.Session,
  handle: SessionStore.StoredHandle
): Effect.Effect<void, StoreError> => {
  const description = handle.description === undefined ? {} : { description: handle.description }
  const put: Effect.Effect<unknown, DataError | StoreError> =
    handle.value !== undefined
      ? session.put(handle.name, handle.value, { overwrite: true, ...description })
      : handle.data !== undefined
        ? Effect.flatMap(store.dataPath(key, handle.data), (path) =>
            session.putFile(handle.name, path, {
              overwrite: true,
              format: handle.data!.format as never,
              ...description
            })
          )
        : handle.path !== undefined
          ? session.putFile(handle.name, handle.path, { overwrite: true, ...description })
          : Effect.void
  return Effect.asVoid(
    Effect.mapError(put, (error) =>
      error._tag === "StoreError"
        ? error
        : new StoreError({
            reason: "Corrupt",
            tenant: key.tenant,
            sessionId: key.id,
            message: `The stored handle "${handle.name}" could not be restored (${error.message}); remove or replace it.`
          })
    )
  )
}

/** Commits what the session added since the last commit, with `usage` not carried by a stored turn. */
const commitNew =
  (
    store: SessionStore.Service,
    key: SessionStore.SessionKey,
    session: AgentSession.Session,
    committed: Ref.Ref<{ readonly seq: number; readonly history: Message.History }>
  ) =>
  (usage: Usage.Usage): Effect.Effect<void, StoreError> =>
    Effect.gen(function* () {
      const before = yield* Ref.get(committed)
      const history = yield* session.history
      const steps = stepsSince(before.history, history)
      if (!isZero(usage)) steps.push(SessionStore.usageStep(usage))
      if (steps.length === 0) return
      const seq = yield* store.commit(key, steps, { expectedSeq: before.seq })
      yield* Ref.set(committed, { seq, history })
    })

const isZero = (usage: Usage.Usage): boolean =>
  usage.inputTokens === 0 && usage.outputTokens === 0 && usage.cacheReadTokens === 0 && usage.cacheWriteTokens === 0

/** The usage added between two readings of a session's total. */
export const usageSince = (after: Usage.Usage, before: Usage.Usage): Usage.Usage =>
  Usage.make({
    inputTokens: after.inputTokens - before.inputTokens,
    outputTokens: after.outputTokens - before.outputTokens,
    cacheReadTokens: after.cacheReadTokens - before.cacheReadTokens,
    cacheWriteTokens: after.cacheWriteTokens - before.cacheWriteTokens
  })

/** The steps that turn `before` into `after` (a trailing message may have grown). */
const stepsSince = (before: Message.History, after: Message.History): Array<SessionStore.Step> => {
  const steps: Array<SessionStore.Step> = []
  const add = (role: Message.Role, blocks: ReadonlyArray<Message.ContentBlock>) => {
    if (blocks.length === 0) return
    if (role === "assistant") {
      steps.push(SessionStore.turnStep(blocks, Usage.empty))
      return
    }
    const results = blocks.filter((block): block is Message.ToolResultBlock => block.type === "tool_result")
    const others = blocks.filter((block) => block.type !== "tool_result")
    if (results.length > 0) steps.push(SessionStore.toolResultsStep(results))
    if (others.length > 0) steps.push(SessionStore.userStep(others))
  }
  const n = before.length
  if (n > 0 && after.length >= n) add(after[n - 1]!.role, after[n - 1]!.content.slice(before[n - 1]!.content.length))
  for (const message of after.slice(n)) add(message.role, message.content)
  return steps
}

const encodeError = Schema.encodeUnknownSync(AskError)

/** The stored end of an ask that ended with `exit`. */
const endOf = (exit: Exit.Exit<unknown, HarnessError | StoreError>): SessionStore.AskEnd => {
  if (Exit.isSuccess(exit)) return { status: "completed" }
  const error = exit.cause.reasons.find((reason) => reason._tag === "Fail")
  if (error !== undefined) return { status: "failed", error: encodeError(error.error) as Schema.Json }
  return { status: exit.cause.reasons.some((reason) => reason._tag === "Interrupt") ? "interrupted" : "failed" }
}

const runAsk = (
  store: SessionStore.Service,
  key: SessionStore.SessionKey,
  session: AgentSession.Session,
  sync: (usage: Usage.Usage) => Effect.Effect<void, StoreError>,
  askId: string,
  prompt: string
): Stream.Stream<LoggedEvent, HarnessError | StoreError> =>
  Stream.unwrap(
    Effect.gen(function* () {
      yield* store.appendEvents(key, askId, [])
      const usageBefore = yield* session.usage
      const commit = Effect.flatMap(session.usage, (usage) => sync(usageSince(usage, usageBefore)))
      let done = false
      const events = session.askStream(prompt).pipe(
        // while an append is in flight the next events gather, and are written in one append
        Stream.bufferArray({ capacity: 4096 }),
        Stream.mapArrayEffect((chunk) =>
          Effect.map(store.appendEvents(key, askId, chunk as ReadonlyArray<Schema.Json>), (last) =>
            Arr.map(chunk, (event, i): LoggedEvent => ({ id: last - chunk.length + 1 + i, event }))
          )
        ),
        Stream.concat(
          Stream.fromEffectDrain(
            Effect.andThen(
              commit,
              Effect.sync(() => {
                done = true
              })
            )
          )
        ),
        Stream.onExit((exit) =>
          Effect.gen(function* () {
            if (!done) yield* Effect.ignore(commit, { log: true })
            yield* Effect.ignore(store.endAsk(key, askId, endOf(exit)), { log: true })
          })
        )
      )
      return events
    })
  )
