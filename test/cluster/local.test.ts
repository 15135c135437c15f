/**
 * The `Session` entity in one process (`Cluster.layerLocal`: Effect Cluster's in-memory runner,
 * every call still encoded and decoded by the entity's schemas), over the memory `SessionStore`,
 * real DuckDB and the scripted model. The two-runner suite on PostgreSQL is `npm run test:cluster`.
 */
import { assert, describe, it } from "@effect/vitest"
import { Deferred, Effect, Exit, Fiber, Layer, Metric, Stream } from "effect"
import { TestClock } from "effect/testing"
import { Cluster, SessionEntity } from "../../src/cluster/index.js"
import { Data, HarnessError, Message, Mock, SessionStore, Usage } from "../../src/index.js"
import { assertValidHistory, textOf } from "../utils/events.js"
import { brain } from "./brain.js"

const layerWith = (turns: ReadonlyArray<Mock.Turn>, options: Cluster.LocalOptions = {}) =>
  Cluster.layerLocal(options).pipe(
    Layer.provideMerge(SessionStore.layerMemory()),
    Layer.provideMerge(Mock.layer({ turns }))
  )

const local = layerWith([brain("local")])

const services = Effect.all({
  sessions: Effect.service(Cluster.Sessions),
  store: Effect.service(SessionStore.SessionStore),
  recorder: Effect.service(Mock.Recorder)
})

const eventsOf = (chunks: ReadonlyArray<SessionEntity.AskChunk>) =>
  chunks.flatMap((chunk) => (chunk._tag === "Event" ? [chunk.event] : []))

/** Starts an ask and waits until its first text arrived (the scripted model then stalls). */
const askUntilText = (
  sessions: Cluster.Sessions["Service"],
  key: SessionStore.SessionKey,
  prompt: string,
  askId?: string
) =>
  Effect.gen(function* () {
    const texted = yield* Deferred.make<void>()
    const fiber = yield* sessions.askStream(key, prompt, { askId }).pipe(
      Stream.tap((chunk) =>
        chunk._tag === "Event" && chunk.event.type === "content_block_delta"
          ? Deferred.succeed(texted, undefined)
          : Effect.void
      ),
      Stream.runCollect,
      Effect.forkChild
    )
    yield* Deferred.await(texted)
    return fiber
  })

describe("Session entity", () => {
  it.live(
    "an ask streams its events with their ids in the ask's stored log, then Done naming the session and the runner",
    () =>
      Effect.gen(function* () {
        const { sessions, store } = yield* services
        const key = yield* sessions.create("acme", { id: "first" })
        const chunks = yield* Stream.runCollect(sessions.askStream(key, "hello", { askId: "ask-1" }))
        const done = chunks[chunks.length - 1]!
        assert.strictEqual(done._tag, "Done")
        if (done._tag !== "Done") return
        assert.strictEqual(done.session, "acme/first")
        assert.strictEqual(done.askId, "ask-1")
        assert.strictEqual(done.status, "completed")
        assert.strictEqual(done.runner, "localhost:34431")
        assert.strictEqual(textOf(eventsOf(chunks)), "answer 1 on local: hello")
        assert.isAbove(done.usage.outputTokens, 0)
        const logged = yield* store.readEvents(key, "ask-1")
        assert.deepStrictEqual(
          logged.events.map((stored) => stored.id),
          chunks.flatMap((chunk) => (chunk._tag === "Event" ? [chunk.id] : []))
        )
        assert.deepStrictEqual(
          logged.events.map((stored) => stored.event),
          eventsOf(chunks) as ReadonlyArray<unknown>
        )
        assert.deepStrictEqual(logged.end, { status: "completed" })
      }).pipe(Effect.provide(local))
  )

  it.live("history and usage come from the session's runner, and every ask is committed to the store", () =>
    Effect.gen(function* () {
      const { sessions, store } = yield* services
      const key = yield* sessions.create("acme", { id: "committed" })
      const first = yield* sessions.ask(key, "one")
      const second = yield* sessions.ask(key, "two")
      assert.strictEqual(first.text, "answer 1 on local: one")
      assert.strictEqual(second.text, "answer 2 on local: two")
      const reply = yield* sessions.history(key)
      assert.strictEqual(reply.runner, "localhost:34431")
      assert.deepStrictEqual(reply.history, [
        Message.user([Message.text("one")]),
        Message.assistant([Message.text("answer 1 on local: one")]),
        Message.user([Message.text("two")]),
        Message.assistant([Message.text("answer 2 on local: two")])
      ])
      assert.deepStrictEqual(reply.usage, Usage.add(first.usage, second.usage))
      const stored = yield* store.load(key)
      assert.deepStrictEqual(stored.history, reply.history)
      assert.deepStrictEqual(stored.usage, reply.usage)
    }).pipe(Effect.provide(local))
  )

  it.live("a stored session is resumed when its entity starts: the model sees its history", () =>
    Effect.gen(function* () {
      const { sessions, store, recorder } = yield* services
      const created = yield* store.create("acme", { id: "resumed" })
      const key = { tenant: "acme", id: created.id }
      yield* store.commit(key, [
        SessionStore.userStep("earlier question"),
        SessionStore.turnStep([Message.text("earlier answer")], Usage.make({ outputTokens: 2 }))
      ])
      const reply = yield* sessions.ask(key, "next question")
      assert.strictEqual(reply.text, "answer 2 on local: next question")
      const [request] = yield* recorder.requests
      assert.deepStrictEqual(request!.messages.slice(0, 2), [
        Message.user([Message.text("earlier question")]),
        Message.assistant([Message.text("earlier answer")])
      ])
      const history = yield* sessions.history(key)
      assert.strictEqual(history.usage.outputTokens, 2 + reply.usage.outputTokens)
    }).pipe(Effect.provide(local))
  )

  it.live(
    "interrupt reaches the running ask: it ends with Done interrupted, and the next ask works on a valid history",
    () =>
      Effect.gen(function* () {
        const { sessions, store } = yield* services
        const key = yield* sessions.create("acme", { id: "interrupted" })
        const fiber = yield* askUntilText(sessions, key, "stall please")
        const running = yield* sessions.history(key)
        const interrupted = yield* sessions.interrupt(key)
        assert.strictEqual(interrupted, running.running)
        const chunks = yield* Fiber.join(fiber)
        const done = chunks[chunks.length - 1]!
        assert.deepInclude(done, { _tag: "Done", status: "interrupted", askId: interrupted! })
        assert.strictEqual(yield* sessions.interrupt(key), undefined, "nothing runs after it")
        const next = yield* sessions.ask(key, "and now?")
        assert.strictEqual(next.text, "answer 2 on local: and now?")
        const { history } = yield* sessions.history(key)
        assertValidHistory(history)
        assert.deepStrictEqual((yield* store.load(key)).history, history)
        assert.deepStrictEqual((yield* store.readEvents(key, interrupted!)).end, { status: "interrupted" })
      }).pipe(Effect.provide(local))
  )

  it.live("an ask id whose log has no end (its runner died) is not run again: its events, then AskInterrupted", () =>
    Effect.gen(function* () {
      const { sessions, store, recorder } = yield* services
      const key = yield* sessions.create("acme", { id: "cut" })
      const start = { type: "message_start", message: { id: "m", role: "assistant", model: "x", content: [] } } as const
      yield* store.appendEvents(key, "cut-ask", [start as never])
      const seen: Array<SessionEntity.AskChunk> = []
      const exit = yield* sessions.askStream(key, "this must not run", { askId: "cut-ask" }).pipe(
        Stream.runForEach((chunk) => Effect.sync(() => seen.push(chunk))),
        Effect.exit
      )
      assert.deepStrictEqual(seen, [{ _tag: "Event", id: 1, event: start as never }])
      assert.isTrue(Exit.isFailure(exit))
      const error = Exit.isFailure(exit) ? exit.cause.reasons[0] : undefined
      assert.strictEqual(error?._tag, "Fail")
      const failure = error?._tag === "Fail" ? error.error : undefined
      assert.instanceOf(failure, SessionEntity.AskInterrupted)
      assert.isFalse((failure as SessionEntity.AskInterrupted).isRetryable)
      assert.strictEqual(yield* recorder.turns, 0, "the model was not called")
      assert.deepStrictEqual((yield* store.load(key)).history, [], "nothing was committed")
      assert.strictEqual((yield* store.readEvents(key, "cut-ask")).end?.status, "interrupted")
      // asked again with the same id, it is still the same typed error, and still not run
      const again = yield* Effect.flip(sessions.ask(key, "this must not run", { askId: "cut-ask" }))
      assert.strictEqual(again._tag, "AskInterrupted")
      assert.strictEqual(yield* recorder.turns, 0)
    }).pipe(Effect.provide(local))
  )

  it.live("an ask id that completed is replayed from the store, not run again", () =>
    Effect.gen(function* () {
      const { sessions, recorder } = yield* services
      const key = yield* sessions.create("acme", { id: "replayed" })
      const first = yield* Stream.runCollect(sessions.askStream(key, "once", { askId: "same" }))
      const again = yield* Stream.runCollect(sessions.askStream(key, "once", { askId: "same" }))
      assert.deepStrictEqual(eventsOf(again), eventsOf(first))
      assert.deepInclude(again[again.length - 1]!, { _tag: "Done", status: "completed", askId: "same" })
      assert.strictEqual(yield* recorder.turns, 1)
      assert.strictEqual((yield* sessions.history(key)).history.length, 2)
    }).pipe(Effect.provide(local))
  )

  it.live("put stores a value that the next ask queries with SQL, and keeps it in the store", () =>
    Effect.gen(function* () {
      const { sessions, store } = yield* services
      const key = yield* sessions.create("acme", { id: "data" })
      const rows = [
        { region: "EU", revenue: 120 },
        { region: "US", revenue: 80 }
      ]
      assert.strictEqual(yield* sessions.put(key, "sales", rows), "sales")
      const reply = yield* sessions.ask(key, "sql: SELECT sum(revenue) AS total FROM sales")
      assert.include(reply.text, "200")
      const stored = yield* store.load(key)
      // the rows are kept as the session's data file (Parquet), beside the handle's snapshot
      assert.deepStrictEqual(
        stored.handles.map((handle) => [handle.name, handle.snapshot.rows, handle.data !== undefined]),
        [["sales", 2, true]]
      )
    }).pipe(Effect.provide(local))
  )

  it.live("the same id in two tenants is two sessions; an unknown session is a typed StoreError", () =>
    Effect.gen(function* () {
      const { sessions } = yield* services
      const a = yield* sessions.create("tenant-a", { id: "same" })
      const b = yield* sessions.create("tenant-b", { id: "same" })
      yield* sessions.ask(a, "only in a")
      assert.lengthOf((yield* sessions.history(a)).history, 2)
      assert.lengthOf((yield* sessions.history(b)).history, 0)
      const error = yield* Effect.flip(sessions.ask({ tenant: "tenant-c", id: "same" }, "hello"))
      assert.instanceOf(error, SessionStore.StoreError)
      assert.strictEqual((error as SessionStore.StoreError).reason, "NotFound")
      const history = yield* Effect.flip(sessions.history({ tenant: "tenant-c", id: "same" }))
      assert.strictEqual(history._tag, "StoreError")
    }).pipe(Effect.provide(local))
  )

  it.live("a failing ask's typed error crosses the entity as the same class, and the session stays usable", () =>
    Effect.gen(function* () {
      const { sessions } = yield* services
      const key = yield* sessions.create("acme", { id: "failing" })
      const error = yield* Effect.flip(sessions.ask(key, "fails"))
      assert.instanceOf(error, HarnessError.ProviderError)
      assert.strictEqual((error as HarnessError.ProviderError).reason, "InvalidRequest")
      const next = yield* sessions.ask(key, "works")
      assert.strictEqual(next.text, "fine")
      assertValidHistory((yield* sessions.history(key)).history)
    }).pipe(
      Effect.provide(
        layerWith([
          Mock.fail(
            new HarnessError.ProviderError({
              reason: "InvalidRequest",
              status: 400,
              provider: "mock",
              message: "bad request"
            })
          ),
          Mock.text("fine")
        ])
      )
    )
  )

  it.live("a caller that stops reading interrupts the ask on its runner; the next ask runs after it ended", () =>
    Effect.gen(function* () {
      const { sessions, store } = yield* services
      const key = yield* sessions.create("acme", { id: "walked-away" })
      const firstEvents = yield* sessions
        .askStream(key, "stall, nobody waits", { askId: "left" })
        .pipe(Stream.take(2), Stream.runCollect)
      assert.lengthOf(firstEvents, 2)
      const next = yield* sessions.ask(key, "next")
      assert.strictEqual(next.text, "answer 2 on local: next")
      assert.deepStrictEqual((yield* store.readEvents(key, "left")).end, { status: "interrupted" })
      assertValidHistory((yield* sessions.history(key)).history)
    }).pipe(Effect.provide(local))
  )

  it.effect("an ask that gets no event within the timeout fails with SessionUnavailable and is interrupted", () =>
    Effect.gen(function* () {
      const { sessions, store } = yield* services
      const key = yield* sessions.create("acme", { id: "timed-out" })
      const fiber = yield* askUntilText(sessions, key, "stall", "slow")
      yield* TestClock.adjust("31 seconds")
      const error = yield* Effect.flip(Fiber.join(fiber))
      assert.instanceOf(error, SessionEntity.SessionUnavailable)
      assert.strictEqual((error as SessionEntity.SessionUnavailable).reason, "Timeout")
      assert.isTrue((error as SessionEntity.SessionUnavailable).isRetryable)
      const next = yield* sessions.ask(key, "next")
      assert.strictEqual(next.text, "answer 2 on local: next")
      assert.deepStrictEqual((yield* store.readEvents(key, "slow")).end, { status: "interrupted" })
    }).pipe(Effect.provide(layerWith([brain("local")], { timeout: "30 seconds" })))
  )

  it.effect(
    "an idle session is released after maxIdleTime (its DuckDB closed) and reloaded from the store on its next call",
    () =>
      Effect.gen(function* () {
        const { sessions } = yield* services
        const key = yield* sessions.create("acme", { id: "idle" })
        yield* sessions.put(key, "t", [{ x: 1 }, { x: 2 }])
        const before = yield* sessions.ask(key, "sql: SELECT sum(x) AS s FROM t")
        assert.include(before.text, "3")
        assert.strictEqual((yield* Metric.value(Data.openDatabases)).value, 1)
        yield* TestClock.adjust("2 minutes")
        assert.strictEqual((yield* Metric.value(Data.openDatabases)).value, 0)
        const after = yield* sessions.ask(key, "sql: SELECT sum(x) * 10 AS s FROM t")
        assert.include(after.text, "30")
        assert.lengthOf((yield* sessions.history(key)).history, 8)
      }).pipe(Effect.provide(layerWith([brain("local")], { maxIdleTime: "1 minute" })))
  )
})
