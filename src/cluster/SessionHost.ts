/**
 * How the `Session` entity opens the session it serves: "open a session by id", as a service, so
 * the entity does not know how sessions are stored and resumed.
 *
 * {@link layerStore} resumes the session from the agent's session store (`agent.session({ id })`),
 * so every step of an ask is committed as the loop makes it, exactly as for any stored session. It
 * writes each ask's events to the store's event log before they are sent on (the events that
 * arrive while an append is in flight go in the next one), and the ask's end after its last.
 *
 * @internal
 */
import { Context, Effect, Exit, Layer, Schema, type Scope, Stream } from "effect"
import * as Arr from "effect/Array"
import * as Agent from "../agent/Agent.js"
import * as Approval from "../control/Approval.js"
import type { DataError, HarnessError, InvalidOptions, NothingToResume } from "../core/HarnessError.js"
import type * as Message from "../core/Message.js"
import type * as StreamEvent from "../core/StreamEvent.js"
import * as Usage from "../core/Usage.js"
import type { Provider } from "../provider/Provider.js"
import * as SessionStore from "../store/SessionStore.js"
import type { StoreError } from "../store/StoreError.js"
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
  /**
   * Resumes the session's paused ask (`session.resumeStream()`) as ask `askId`: its events go on
   * in that ask's log (after the ones it has, when it has some), then its end.
   */
  readonly resume: (askId: string) => Stream.Stream<LoggedEvent, HarnessError | NothingToResume | StoreError>
  /** The tool calls waiting for approval (`session.approvals`). */
  readonly approvals: Effect.Effect<ReadonlyArray<Approval.Pending>>
  /** Approves or denies a waiting call (`session.approve` / `session.deny`). */
  readonly decide: (toolUseId: string, decision: Approval.Decision) => Effect.Effect<void, Approval.ApprovalNotPending>
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
  Effect.map(
    // resumed from the agent's session store: every step an ask commits is written before the next model call
    agent.session({ id: key.id, tenant: key.tenant }),
    (session): Hosted => ({
      ask: (askId, prompt) => logged(store, key, askId, session.askStream(prompt)),
      resume: (askId) => logged(store, key, askId, session.resumeStream()),
      approvals: session.approvals,
      // a store that cannot keep the decision is the runner's failure; the call still waits
      decide: (toolUseId, decision) =>
        Approval.decide(session, toolUseId, decision).pipe(Effect.catchTag("StoreError", (error) => Effect.die(error))),
      history: session.history,
      usage: session.usage,
      put: (name, value, putOptions) => session.put(name, value, putOptions)
    })
  )

/** The usage added between two readings of a session's total. */
export const usageSince = (after: Usage.Usage, before: Usage.Usage): Usage.Usage =>
  Usage.make({
    inputTokens: after.inputTokens - before.inputTokens,
    outputTokens: after.outputTokens - before.outputTokens,
    cacheReadTokens: after.cacheReadTokens - before.cacheReadTokens,
    cacheWriteTokens: after.cacheWriteTokens - before.cacheWriteTokens
  })

const encodeError = Schema.encodeUnknownSync(AskError)

/** The stored end of an ask that ended with `exit`. */
const endOf = (exit: Exit.Exit<unknown, HarnessError | NothingToResume | StoreError>): SessionStore.AskEnd => {
  if (Exit.isSuccess(exit)) return { status: "completed" }
  const error = exit.cause.reasons.find((reason) => reason._tag === "Fail")
  if (error !== undefined) return { status: "failed", error: encodeError(error.error) as Schema.Json }
  return { status: exit.cause.reasons.some((reason) => reason._tag === "Interrupt") ? "interrupted" : "failed" }
}

/**
 * An ask's events written to its log `askId` (started before anything runs; continued when it
 * exists), each before it is emitted, then its end, however it ends.
 */
const logged = <E extends HarnessError | NothingToResume | StoreError>(
  store: SessionStore.Service,
  key: SessionStore.SessionKey,
  askId: string,
  events: Stream.Stream<StreamEvent.StreamEvent, E>
): Stream.Stream<LoggedEvent, E | StoreError> =>
  Stream.unwrap(
    Effect.as(
      store.appendEvents(key, askId, []),
      events.pipe(
        // while an append is in flight the next events gather, and are written in one append
        Stream.bufferArray({ capacity: 4096 }),
        Stream.mapArrayEffect((chunk) =>
          Effect.map(store.appendEvents(key, askId, chunk as ReadonlyArray<Schema.Json>), (last) =>
            Arr.map(chunk, (event, i): LoggedEvent => ({ id: last - chunk.length + 1 + i, event }))
          )
        ),
        Stream.onExit((exit) => Effect.ignore(store.endAsk(key, askId, endOf(exit)), { log: true }))
      )
    )
  )
