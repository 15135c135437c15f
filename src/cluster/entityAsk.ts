/**
 * The asks of a `Session` entity: `Ask` (run a new one, replay or follow one that ran, or go on
 * with one cut off while a call waited for approval), `Events` (follow one), and how an ask runs
 * (its events recorded for followers, interruptible by `Interrupt`).
 *
 * Which asks can run: one at a time. A new ask is claimed under the entity's gate when none runs;
 * an `Ask` arriving while another runs without its caller (started by a decision) waits for it.
 *
 * An ask id whose log has no end was cut off by its runner's death. It is never run again, since
 * its steps so far are committed; but when it was paused for approval (a call it announced still
 * waits), resuming it repeats nothing: an `Ask` with its id goes on with it (`session.resumeStream()`,
 * its log continued), and a decision does the same with no caller. Any other cut ask is recorded
 * as interrupted and fails with `AskInterrupted`.
 * @internal
 */
import { randomUUID } from "node:crypto"
import { Deferred, Effect, Exit, Schema, Stream } from "effect"
import * as Arr from "effect/Array"
import * as Message from "../core/Message.js"
import * as Usage from "../core/Usage.js"
import type * as SessionStore from "../store/SessionStore.js"
import type { StoreError } from "../store/StoreError.js"
import { claim, type EntityState, type Running } from "./entityState.js"
import * as SessionEntity from "./SessionEntity.js"
import { type Hosted, type LoggedEvent, usageSince } from "./SessionHost.js"

type Chunks = Stream.Stream<SessionEntity.AskChunk, SessionEntity.AskError>

/** What a handler does once it decided under the gate: stream `chunks`, or wait for `until` and decide again. */
type Plan = { readonly chunks: Chunks } | { readonly until: Effect.Effect<void> }

/** Decides under the entity's gate until a plan streams. */
const planned = (entity: EntityState, plan: (session: Hosted) => Effect.Effect<Plan, SessionEntity.AskError>): Chunks =>
  Stream.unwrap(
    Effect.gen(function* () {
      const session = yield* entity.hosted
      for (;;) {
        const next = yield* entity.gate.withPermits(1)(plan(session))
        if ("chunks" in next) return next.chunks
        yield* next.until
      }
    })
  )

/** `Ask`: follows, replays, goes on with, or runs ask `askId`. */
export const ask = (entity: EntityState, askId: string, prompt: string): Chunks =>
  planned(entity, (session) =>
    Effect.gen(function* () {
      const current = entity.running
      if (current?.askId === askId) return { chunks: yield* following(entity, current, 0) }
      // one ask at a time: one running without its caller is waited for
      if (current !== undefined) return { until: Deferred.await(current.ended) }
      const previous = yield* readLog(entity, askId)
      if (previous === undefined) {
        return { chunks: run(entity, claim(entity, askId), session, session.ask(askId, prompt)) }
      }
      if (previous.end === undefined && (yield* waitsOn(session, previous))) {
        const resumed = run(entity, claim(entity, askId), session, session.resume(askId))
        return { chunks: Stream.concat(storedChunks(previous.events), resumed) }
      }
      return { chunks: replayAsk(entity, askId, previous) }
    })
  )

/** `Events`: ask `askId`'s events after `after`, live while it runs, then its end. */
export const events = (entity: EntityState, askId: string, after: number): Chunks =>
  planned(entity, (session) =>
    Effect.gen(function* () {
      const current = entity.running
      if (current?.askId === askId) return { chunks: yield* following(entity, current, after) }
      const page = yield* entity.store.readEvents(entity.key, askId)
      const rest = { ...page, events: page.events.filter((stored) => stored.id > after) }
      if (page.end === undefined && (yield* waitsOn(session, page))) {
        // cut off while a call waited: what it stored, then (once a decision goes on with it under
        // this id) the rest
        const last = rest.events.at(-1)?.id ?? after
        const started = entity.started
        const later = Stream.unwrap(Effect.as(Deferred.await(started), events(entity, askId, last)))
        return { chunks: Stream.concat(storedChunks(rest.events), later) }
      }
      return { chunks: replayAsk(entity, askId, rest) }
    })
  )

/**
 * The running ask's events after `after`: those stored (before it started, when it goes on with
 * a log), then those of its tape not among them.
 */
const following = (entity: EntityState, running: Running, after: number) =>
  Effect.map(readLog(entity, running.askId, after), (page) => {
    const last = page?.events.at(-1)?.id ?? after
    return Stream.concat(
      storedChunks(page?.events ?? []),
      running.tape.follow.pipe(Stream.filter((chunk) => chunk._tag !== "Event" || chunk.id > last))
    )
  })

/** Ask `askId`'s log after `after`, or `undefined` when it has none. */
const readLog = (entity: EntityState, askId: string, after = 0) =>
  entity.store
    .readEvents(entity.key, askId, { after })
    .pipe(Effect.catchIf(isNotFound, () => Effect.succeed(undefined)))

const isNotFound = (error: StoreError): boolean => error.reason === "NotFound"

/**
 * The tool calls an ask's log announced as waiting for approval (its `approval_request`s).
 * @internal
 */
export const announcedCalls = (page: SessionStore.EventsPage): ReadonlySet<string> =>
  new Set(
    page.events.flatMap((stored) => {
      const event = stored.event as { readonly type?: unknown; readonly tool_use_id?: unknown }
      return event.type === "approval_request" && typeof event.tool_use_id === "string" ? [event.tool_use_id] : []
    })
  )

/** Whether a call announced in `page` still waits for approval. */
const waitsOn = (session: Hosted, page: SessionStore.EventsPage): Effect.Effect<boolean> => {
  const announced = announcedCalls(page)
  if (announced.size === 0) return Effect.succeed(false)
  return Effect.map(session.approvals, (waiting) => waiting.some((call) => announced.has(call.toolUseId)))
}

const storedChunks = (stored: ReadonlyArray<SessionStore.StoredEvent>): Chunks =>
  Stream.fromIterable(
    Arr.map(stored, (event): SessionEntity.AskChunk => ({ _tag: "Event", id: event.id, event: event.event as never }))
  )

/**
 * Runs `events` as the entity's running ask `running` (so `Interrupt` can stop it and others can
 * follow it): its chunks, then its `Done`, interrupted when it was stopped before its last event.
 * Claim `running` first.
 */
export const run = (
  entity: EntityState,
  running: Running,
  session: Hosted,
  events: Stream.Stream<LoggedEvent, SessionEntity.AskError>
): Chunks =>
  Stream.unwrap(
    Effect.gen(function* () {
      const usageBefore = yield* session.usage
      // an interrupt that comes after the ask's last event does not make it interrupted
      let finished = false
      const done = (status: SessionEntity.DoneStatus) =>
        Effect.map(
          session.usage,
          (usage): SessionEntity.AskDone => ({
            _tag: "Done",
            askId: running.askId,
            status,
            usage: usageSince(usage, usageBefore),
            runner: entity.runner,
            session: entity.session
          })
        )
      const ended = (exit: Exit.Exit<unknown, SessionEntity.AskError>) =>
        Effect.gen(function* () {
          // a caller that stopped reading interrupted it: its followers get its end all the same
          if (Exit.isFailure(exit) && !running.tape.ended) {
            const failure = exit.cause.reasons.find((reason) => reason._tag === "Fail")
            if (failure !== undefined) running.tape.close(Exit.fail(failure.error))
            else running.tape.push(yield* done("interrupted"))
          }
          running.tape.close(Exit.void)
          if (entity.running === running) entity.running = undefined
          yield* Deferred.succeed(running.ended, undefined)
          // its caller went away with a call decided and not answered (the decision came as it
          // ended, or the call was running): it goes on in an ask of its own, as `resume` would.
          // Not after `Interrupt`: that stops the session's work.
          if (running.decided.size > 0 && !running.cancelled && Exit.hasInterrupts(exit)) {
            yield* entity.detach(
              Effect.asVoid(entity.gate.withPermits(1)(resumeDecided(entity, session, running.decided)))
            )
          }
        })
      return events.pipe(
        Stream.map((logged): SessionEntity.AskChunk => ({ _tag: "Event", id: logged.id, event: logged.event })),
        Stream.concat(
          Stream.fromEffectDrain(
            Effect.sync(() => {
              finished = true
            })
          )
        ),
        Stream.interruptWhen(Deferred.await(running.interrupt)),
        Stream.concat(Stream.fromEffect(Effect.suspend(() => done(finished ? "completed" : "interrupted")))),
        Stream.tap((chunk) => Effect.sync(() => running.tape.push(chunk))),
        Stream.onExit(ended)
      )
    })
  )

/**
 * After an ask ended with calls decided while it ran: when one of them is still open (decided,
 * not run: the ask was interrupted as its caller went away) and no ask runs, starts the ask that
 * resumes it, with no caller; its id. Call it under the gate.
 * @internal
 */
export const resumeDecided = (entity: EntityState, session: Hosted, decided: ReadonlySet<string>) =>
  Effect.gen(function* () {
    if (entity.running !== undefined) return undefined
    const open = Message.openToolUses(yield* session.history)
    if (!open.some((use) => decided.has(use.id))) return undefined
    const askId = randomUUID()
    const running = claim(entity, askId)
    yield* entity.detach(Stream.runDrain(run(entity, running, session, session.resume(askId))).pipe(Effect.ignore))
    return askId
  })

const decodeError = Schema.decodeUnknownExit(SessionEntity.AskError)

/**
 * A stored ask replayed: its events, then its end. An ask with no end was cut off by its runner's
 * death: its log is ended as interrupted, and the stream fails with `AskInterrupted`.
 */
const replayAsk = (entity: EntityState, askId: string, page: SessionStore.EventsPage): Chunks => {
  const events = storedChunks(page.events)
  const { key, store } = entity
  const end = page.end
  if (end === undefined) {
    const error = new SessionEntity.AskInterrupted({
      askId,
      tenant: key.tenant,
      sessionId: key.id,
      message:
        `Ask "${askId}" was cut off: the runner that ran it stopped. The session kept every step ` +
        "committed before that (read its history); ask again to go on."
    })
    const record = store.endAsk(key, askId, {
      status: "interrupted",
      error: Schema.encodeUnknownSync(SessionEntity.AskError)(error) as Schema.Json
    })
    return Stream.concat(
      events,
      Stream.fromEffect(Effect.andThen(Effect.ignore(record, { log: true }), Effect.fail(error)))
    )
  }
  if (end.status === "completed" || (end.status === "interrupted" && end.error === undefined)) {
    const done: SessionEntity.AskDone = {
      _tag: "Done",
      askId,
      runner: entity.runner,
      session: entity.session,
      status: end.status,
      usage: Usage.empty
    }
    return Stream.concat(events, Stream.succeed(done))
  }
  const decoded = decodeError(end.error)
  return Stream.concat(events, Exit.isSuccess(decoded) ? Stream.fail(decoded.value) : Stream.die(end.error))
}
