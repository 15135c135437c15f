/**
 * Tool approval on the `Session` entity in one process (`Cluster.layerLocal`, every call through
 * the entity's schemas), over the memory `SessionStore` and the scripted model of `brain.ts`,
 * whose `email <name>` prompt calls `send_email`, a tool that needs approval. The HTTP routes are
 * in `approvalHttp.test.ts`; a runner killed while a call waits, in `npm run test:cluster`.
 */
import { assert, describe, it } from "@effect/vitest"
import { Deferred, Effect, Exit, Fiber, Layer, Metric, Schedule, Stream } from "effect"
import { TestClock } from "effect/testing"
import { Cluster, type SessionEntity } from "../../src/cluster/index.js"
import { Agent, Approval, Data, Mock, SessionStore, type StreamEvent } from "../../src/index.js"
import { sendEmail, sent } from "../fixtures/email.js"
import { assertValidHistory, lastUserMessage, textOf, toolResultBlocks } from "../utils/events.js"
import { brain, emailTo } from "./brain.js"

const agent = { tools: [Approval.require(sendEmail, { reason: "emails leave the company" })] }

const layerWith = (options: Cluster.LocalOptions = {}) =>
  Cluster.layerLocal({ agent, ...options }).pipe(
    Layer.provideMerge(SessionStore.layerMemory()),
    Layer.provideMerge(Mock.layer({ turns: [brain("local")] }))
  )
const local = layerWith()

const services = Effect.all({
  sessions: Effect.service(Cluster.Sessions),
  store: Effect.service(SessionStore.SessionStore),
  recorder: Effect.service(Mock.Recorder)
})

const eventsOf = (chunks: ReadonlyArray<SessionEntity.AskChunk>) =>
  chunks.flatMap((chunk) => (chunk._tag === "Event" ? [chunk.event] : []))
const idsOf = (chunks: ReadonlyArray<SessionEntity.AskChunk>) =>
  chunks.flatMap((chunk) => (chunk._tag === "Event" ? [chunk.id] : []))
const isRequest = (chunk: SessionEntity.AskChunk) => chunk._tag === "Event" && chunk.event.type === "approval_request"
const resultsOf = (chunks: ReadonlyArray<SessionEntity.AskChunk>) =>
  eventsOf(chunks).flatMap((event) =>
    event.type === "tool_result" ? [[event.tool_use_id, event.content, event.is_error] as const] : []
  )

/**
 * Asks `email <name>` (the model calls `send_email`, which waits for approval) in a fiber; returns
 * once the call waits (once `requests` approval requests came), with the chunks so far (they keep
 * coming into `chunks`).
 */
const pausedAsk = (
  sessions: Cluster.Sessions["Service"],
  key: SessionStore.SessionKey,
  name: string,
  askId: string,
  requests = 1
) =>
  Effect.gen(function* () {
    const paused = yield* Deferred.make<void>()
    const chunks: Array<SessionEntity.AskChunk> = []
    const fiber = yield* sessions.askStream(key, `email ${name}`, { askId }).pipe(
      Stream.runForEach((chunk) =>
        Effect.suspend(() => {
          chunks.push(chunk)
          return chunks.filter(isRequest).length === requests ? Deferred.succeed(paused, undefined) : Effect.void
        })
      ),
      Effect.exit,
      Effect.forkChild
    )
    yield* Deferred.await(paused)
    return { fiber, chunks }
  })

/** Waits (never asserts) until the session runs no ask. */
const idle = (sessions: Cluster.Sessions["Service"], key: SessionStore.SessionKey) =>
  sessions
    .history(key)
    .pipe(Effect.repeat({ until: (reply) => reply.running === undefined, schedule: Schedule.spaced("5 millis") }))

describe("tool approval on the Session entity", () => {
  it.live("a waiting call is listed; approving it continues the running ask, which runs the tool and completes", () =>
    Effect.gen(function* () {
      const { sessions } = yield* services
      sent.length = 0
      const key = yield* sessions.create("acme", { id: "approve" })
      const { fiber, chunks } = yield* pausedAsk(sessions, key, "ana", "a1")
      assert.deepStrictEqual(eventsOf(chunks).at(-1), {
        type: "approval_request",
        tool_use_id: "toolu_ana",
        tool_name: "send_email",
        input: emailTo("ana"),
        reason: "emails leave the company"
      })
      assert.deepStrictEqual(sent, [])
      const waiting = yield* sessions.approvals(key)
      assert.deepStrictEqual(
        waiting.map(({ requestedAt: _, ...call }) => call),
        [{ toolUseId: "toolu_ana", tool: "send_email", input: emailTo("ana"), reason: "emails leave the company" }]
      )
      assert.isAbove(waiting[0]!.requestedAt, Date.now() - 60_000)
      assert.strictEqual((yield* sessions.history(key)).running, "a1")

      assert.strictEqual(yield* sessions.approve(key, "toolu_ana"), "a1", "the running ask goes on with it")
      assert.isTrue(Exit.isSuccess(yield* Fiber.join(fiber)))
      assert.deepStrictEqual(resultsOf(chunks), [["toolu_ana", "sent to ana@example.com", false]])
      assert.strictEqual(textOf(eventsOf(chunks)), "Result: sent to ana@example.com")
      assert.deepInclude(chunks.at(-1)!, { _tag: "Done", askId: "a1", status: "completed" })
      const ids = idsOf(chunks)
      assert.deepStrictEqual(
        ids,
        ids.map((_, i) => i + 1),
        "one log across the pause"
      )
      assert.deepStrictEqual(sent, ["ana@example.com: Q3 numbers attached"])

      assert.deepStrictEqual(yield* sessions.approvals(key), [])
      const again = yield* Effect.flip(sessions.approve(key, "toolu_ana"))
      assert.instanceOf(again, Approval.ApprovalNotPending)
      const { history } = yield* sessions.history(key)
      assertValidHistory(history)
      assert.deepStrictEqual(
        history.map((message) => message.role),
        ["user", "assistant", "user", "assistant"]
      )
    }).pipe(Effect.provide(local))
  )

  it.live("a denied call does not run; the model reads the reason as its error result and the ask completes", () =>
    Effect.gen(function* () {
      const { sessions, recorder } = yield* services
      sent.length = 0
      const key = yield* sessions.create("acme", { id: "deny" })
      const { fiber, chunks } = yield* pausedAsk(sessions, key, "bob", "b1")
      assert.strictEqual(yield* sessions.deny(key, "toolu_bob", "Not to external addresses."), "b1")
      yield* Fiber.join(fiber)
      const denied = "This tool call was denied: Not to external addresses."
      assert.deepStrictEqual(resultsOf(chunks), [["toolu_bob", denied, true]])
      assert.strictEqual(textOf(eventsOf(chunks)), `Result: ${denied}`)
      assert.deepInclude(chunks.at(-1)!, { _tag: "Done", status: "completed" })
      const requests = yield* recorder.requests
      assert.deepStrictEqual(
        toolResultBlocks(lastUserMessage(requests.at(-1)!)).map((r) => [r.tool_use_id, r.content, r.is_error]),
        [["toolu_bob", denied, true]]
      )
      assert.deepStrictEqual(sent, [])
    }).pipe(Effect.provide(local))
  )

  it.live(
    "an unknown id is ApprovalNotPending naming the waiting call, another tenant's session is NotFound, and the call still waits for an edited approval",
    () =>
      Effect.gen(function* () {
        const { sessions } = yield* services
        sent.length = 0
        const key = yield* sessions.create("acme", { id: "errors" })
        const { fiber } = yield* pausedAsk(sessions, key, "cy", "c1")
        const unknown = yield* Effect.flip(sessions.approve(key, "toolu_other"))
        assert.instanceOf(unknown, Approval.ApprovalNotPending)
        assert.strictEqual((unknown as Approval.ApprovalNotPending).toolUseId, "toolu_other")
        assert.include(unknown.message, "toolu_cy")
        const elsewhere = { tenant: "intruder", id: key.id }
        for (const attempt of [
          Effect.asVoid(sessions.approvals(elsewhere)),
          Effect.asVoid(sessions.approve(elsewhere, "toolu_cy")),
          Effect.asVoid(sessions.deny(elsewhere, "toolu_cy", "no"))
        ]) {
          const error = yield* Effect.flip(attempt)
          assert.instanceOf(error, SessionStore.StoreError)
          assert.strictEqual((error as SessionStore.StoreError).reason, "NotFound")
        }
        assert.deepStrictEqual(
          (yield* sessions.approvals(key)).map((call) => call.toolUseId),
          ["toolu_cy"]
        )
        const edited = { to: "cy@example.com", body: "Q3 numbers (reviewed)" }
        yield* sessions.approve(key, "toolu_cy", { input: edited })
        yield* Fiber.join(fiber)
        assert.deepStrictEqual(sent, ["cy@example.com: Q3 numbers (reviewed)"])
        const { history } = yield* sessions.history(key)
        const call = history[1]!.content.find((block) => block.type === "tool_use")
        assert.deepStrictEqual(
          call?.type === "tool_use" ? call.input : undefined,
          emailTo("cy"),
          "the model's own call"
        )
      }).pipe(Effect.provide(local))
  )

  it.live(
    "an interrupted paused ask leaves its call waiting; the decision starts an ask that resumes it with no reader, and Events replays it",
    () =>
      Effect.gen(function* () {
        const { sessions, store } = yield* services
        sent.length = 0
        const key = yield* sessions.create("acme", { id: "resumed" })
        const { fiber, chunks } = yield* pausedAsk(sessions, key, "dan", "d1")
        assert.strictEqual(yield* sessions.interrupt(key), "d1")
        yield* Fiber.join(fiber)
        assert.deepInclude(chunks.at(-1)!, { _tag: "Done", askId: "d1", status: "interrupted" })
        assert.deepStrictEqual(
          (yield* sessions.approvals(key)).map((call) => call.toolUseId),
          ["toolu_dan"]
        )
        assert.isUndefined((yield* sessions.history(key)).running)

        const askId = yield* sessions.approve(key, "toolu_dan")
        assert.notStrictEqual(askId, "d1", "the interrupted ask ended: a new one resumes it")
        // nobody reads it, and it runs to its end all the same
        yield* idle(sessions, key)
        assert.deepStrictEqual(sent, ["dan@example.com: Q3 numbers attached"])
        assert.deepStrictEqual((yield* store.readEvents(key, askId)).end, { status: "completed" })
        assert.deepStrictEqual((yield* store.readEvents(key, "d1")).end, { status: "interrupted" })

        const replayed = yield* Stream.runCollect(sessions.events(key, askId))
        assert.deepStrictEqual(resultsOf(replayed), [["toolu_dan", "sent to dan@example.com", false]])
        assert.strictEqual(textOf(eventsOf(replayed)), "Result: sent to dan@example.com")
        assert.deepInclude(replayed.at(-1)!, { _tag: "Done", askId, status: "completed" })
        const later = yield* Stream.runCollect(sessions.events(key, askId, { after: 2 }))
        assert.deepStrictEqual(idsOf(later), idsOf(replayed).slice(2))
        const { history } = yield* sessions.history(key)
        assertValidHistory(history)
        assert.deepStrictEqual(
          history.map((message) => message.role),
          ["user", "assistant", "user", "assistant"]
        )
        assert.strictEqual(
          (yield* Effect.flip(Stream.runCollect(sessions.events(key, "never-asked"))))._tag,
          "StoreError"
        )
      }).pipe(Effect.provide(local))
  )

  it.live(
    "an ask cut off with its runner while a call waited goes on under its own id: asked again, it announces the call again, and the approval completes it",
    () =>
      Effect.gen(function* () {
        const { sessions, store } = yield* services
        sent.length = 0
        const key = yield* sessions.create("acme", { id: "cut-paused" })
        const stored = yield* diedWhilePaused(key, "eve", "e1")
        // the caller reconnects with the ask's id (as Effect Cluster re-sends a cut call)
        const again = yield* pausedAsk(sessions, key, "eve", "e1", 2)
        assert.deepStrictEqual(idsOf(again.chunks).slice(0, stored), range(1, stored), "the stored events first")
        const announced = again.chunks.filter(isRequest)
        assert.lengthOf(announced, 2, "the call is announced again")
        assert.strictEqual(idsOf(announced)[1], stored + 1, "the log goes on")
        assert.strictEqual((yield* sessions.history(key)).running, "e1")
        assert.strictEqual(yield* sessions.approve(key, "toolu_eve"), "e1")
        yield* Fiber.join(again.fiber)
        assert.deepInclude(again.chunks.at(-1)!, { _tag: "Done", askId: "e1", status: "completed" })
        assert.strictEqual(textOf(eventsOf(again.chunks)), "Result: sent to eve@example.com")
        assert.deepStrictEqual(sent, ["eve@example.com: Q3 numbers attached"])
        assert.deepStrictEqual((yield* store.readEvents(key, "e1")).end, { status: "completed" })
        assertValidHistory((yield* sessions.history(key)).history)
      }).pipe(Effect.provide(local))
  )

  it.live(
    "a decision on an ask cut off while its call waited goes on under that ask's id; a follower of that id reads it to its end",
    () =>
      Effect.gen(function* () {
        const { sessions } = yield* services
        sent.length = 0
        const key = yield* sessions.create("acme", { id: "cut-decided" })
        const stored = yield* diedWhilePaused(key, "fay", "f1")
        const seen: Array<SessionEntity.AskChunk> = []
        const reached = yield* Deferred.make<void>()
        const follower = yield* sessions.events(key, "f1").pipe(
          Stream.runForEach((chunk) =>
            Effect.suspend(() => {
              seen.push(chunk)
              return seen.length === stored ? Deferred.succeed(reached, undefined) : Effect.void
            })
          ),
          Effect.forkChild
        )
        // the follower has what was stored and waits for a decision
        yield* Deferred.await(reached)
        assert.deepStrictEqual(
          (yield* sessions.approvals(key)).map((call) => call.toolUseId),
          ["toolu_fay"]
        )
        assert.strictEqual(yield* sessions.deny(key, "toolu_fay", "Not now."), "f1")
        yield* Fiber.join(follower)
        assert.deepStrictEqual(idsOf(seen), range(1, idsOf(seen).length), "each event once, in order")
        assert.deepStrictEqual(resultsOf(seen), [["toolu_fay", "This tool call was denied: Not now.", true]])
        assert.deepInclude(seen.at(-1)!, { _tag: "Done", askId: "f1", status: "completed" })
        assert.deepStrictEqual(sent, [])
      }).pipe(Effect.provide(local))
  )

  it.effect("an ask waiting for a decision is not cut by the caller's deadline, however long the person takes", () =>
    Effect.gen(function* () {
      const { sessions } = yield* services
      const key = yield* sessions.create("acme", { id: "patient" })
      const { fiber, chunks } = yield* pausedAsk(sessions, key, "gus", "g1")
      yield* TestClock.adjust("3 hours")
      assert.strictEqual(yield* sessions.approve(key, "toolu_gus"), "g1")
      assert.isTrue(Exit.isSuccess(yield* Fiber.join(fiber)))
      assert.deepInclude(chunks.at(-1)!, { _tag: "Done", status: "completed" })
    }).pipe(Effect.provide(layerWith({ timeout: "30 seconds" })))
  )

  it.effect(
    "an ask a decision started keeps its session on the runner while it runs with no reader, past maxIdleTime; interrupt stops it",
    () =>
      Effect.gen(function* () {
        const { sessions } = yield* services
        sent.length = 0
        const key = yield* sessions.create("acme", { id: "kept" })
        yield* sessions.put(key, "t", [{ x: 1 }])
        yield* sessions.ask(key, "sql: SELECT sum(x) AS s FROM t")
        const { fiber } = yield* pausedAsk(sessions, key, "stall-hal", "h1")
        yield* sessions.interrupt(key)
        yield* Fiber.join(fiber)
        const askId = yield* sessions.approve(key, "toolu_stall-hal")
        // the resumed ask runs the tool, then the model stalls; nobody reads it
        for (let i = 0; i < 20 && sent.length === 0; i++) yield* TestClock.adjust("1 second")
        assert.deepStrictEqual(sent, ["stall-hal@example.com: Q3 numbers attached"])
        // three times maxIdleTime (less than the model stream's 5-minute idle deadline)
        yield* TestClock.adjust("3 minutes")
        assert.strictEqual((yield* Metric.value(Data.openDatabases)).value, 1, "not passivated: its DuckDB is open")
        assert.strictEqual((yield* sessions.history(key)).running, askId)
        const follower = yield* sessions.events(key, askId).pipe(Stream.runCollect, Effect.forkChild)
        assert.strictEqual(yield* sessions.interrupt(key), askId)
        const chunks = yield* Fiber.join(follower)
        assert.deepInclude(chunks.at(-1)!, { _tag: "Done", askId, status: "interrupted" })
        assert.deepStrictEqual(resultsOf(chunks), [["toolu_stall-hal", "sent to stall-hal@example.com", false]])
        assert.strictEqual(textOf(eventsOf(chunks)), "partial ")
        // idle now: released after maxIdleTime
        yield* TestClock.adjust("2 minutes")
        assert.strictEqual((yield* Metric.value(Data.openDatabases)).value, 0)
      }).pipe(Effect.provide(layerWith({ maxIdleTime: "1 minute" })))
  )

  it.live(
    "a runner that stops while an ask a decision started runs stops at once, and the ask's log ends interrupted",
    () =>
      Effect.gen(function* () {
        const store = yield* SessionStore.SessionStore
        const runner = Cluster.layerLocal({ agent }).pipe(
          Layer.provide(Layer.succeed(SessionStore.SessionStore, store)),
          Layer.provide(Mock.layer({ turns: [brain("local")] }))
        )
        const key = { tenant: "acme", id: (yield* store.create("acme", { id: "stopped" })).id }
        const askId = yield* Effect.scoped(
          Effect.gen(function* () {
            const sessions = yield* Effect.provide(Effect.service(Cluster.Sessions), yield* Layer.build(runner))
            const { fiber } = yield* pausedAsk(sessions, key, "stall-ivy", "i1")
            yield* sessions.interrupt(key)
            yield* Fiber.join(fiber)
            const askId = yield* sessions.approve(key, "toolu_stall-ivy")
            yield* sessions
              .history(key)
              .pipe(Effect.repeat({ until: () => sent.includes("stall-ivy@example.com: Q3 numbers attached") }))
            return askId
          })
        ).pipe(Effect.timeout("10 seconds"))
        assert.deepStrictEqual((yield* store.readEvents(key, askId)).end, { status: "interrupted" })
        assertValidHistory((yield* store.load(key)).history)
      }).pipe(Effect.provide(SessionStore.layerMemory()))
  )

  it.live(
    "a decision that comes as the caller goes away is not lost: that ask ends without taking it, and an ask that resumes it runs the call",
    () => {
      const held = holdingEndOf("leaving")
      return Effect.gen(function* () {
        const { sessions, store } = yield* services
        sent.length = 0
        const key = yield* sessions.create("acme", { id: "leaving" })
        const { fiber } = yield* pausedAsk(sessions, key, "kim", "leaving")
        yield* Fiber.interrupt(fiber)
        yield* Deferred.await(held.ending)
        assert.strictEqual((yield* sessions.history(key)).running, "leaving", "still ending")
        assert.strictEqual(yield* sessions.approve(key, "toolu_kim"), "leaving")
        yield* Deferred.succeed(held.release, undefined)
        yield* sessions
          .history(key)
          .pipe(
            Effect.repeat({ until: () => sent.length > 0, schedule: Schedule.spaced("5 millis") }),
            Effect.timeout("10 seconds")
          )
        yield* idle(sessions, key)
        assert.deepStrictEqual(sent, ["kim@example.com: Q3 numbers attached"])
        assert.deepStrictEqual(yield* sessions.approvals(key), [])
        const asks = yield* store.asks(key)
        assert.deepStrictEqual(
          asks.map((ask) => [ask.askId === "leaving" ? "leaving" : "resumed", ask.end?.status]),
          [
            ["leaving", "interrupted"],
            ["resumed", "completed"]
          ]
        )
        const { history } = yield* sessions.history(key)
        assertValidHistory(history)
        assert.deepStrictEqual(
          history.map((message) => message.role),
          ["user", "assistant", "user", "assistant"]
        )
      }).pipe(Effect.ensuring(Deferred.succeed(held.release, undefined)), Effect.provide(held.layer))
    }
  )

  it.live(
    "a decision that comes while the paused ask is being interrupted waits for its end, then starts the ask that resumes it",
    () => {
      const held = holdingEndOf("stopping")
      return Effect.gen(function* () {
        const { sessions } = yield* services
        sent.length = 0
        const key = yield* sessions.create("acme", { id: "stopping" })
        const { fiber } = yield* pausedAsk(sessions, key, "lou", "stopping")
        const interrupting = yield* Effect.forkChild(sessions.interrupt(key))
        yield* Deferred.await(held.ending)
        const deciding = yield* Effect.forkChild(sessions.deny(key, "toolu_lou", "Not today."))
        // time to reach the entity, where it waits for the ask's end (it never answers before it)
        yield* Effect.sleep("100 millis")
        assert.isUndefined(deciding.pollUnsafe(), "the decision waits while the ask ends")
        yield* Deferred.succeed(held.release, undefined)
        assert.strictEqual(yield* Fiber.join(interrupting), "stopping")
        yield* Fiber.join(fiber)
        const askId = yield* Fiber.join(deciding)
        assert.notStrictEqual(askId, "stopping", "the interrupted ask ended: a new one resumes the call")
        const chunks = yield* Stream.runCollect(sessions.events(key, askId))
        assert.deepStrictEqual(resultsOf(chunks), [["toolu_lou", "This tool call was denied: Not today.", true]])
        assert.deepInclude(chunks.at(-1)!, { _tag: "Done", askId, status: "completed" })
        assert.deepStrictEqual(sent, [])
      }).pipe(Effect.ensuring(Deferred.succeed(held.release, undefined)), Effect.provide(held.layer))
    }
  )
})

/**
 * The approval layer over a memory store that holds the end of ask `askId` until `release`:
 * `ending` completes when the entity records that end, so a test can act while the ask ends.
 */
const holdingEndOf = (askId: string) => {
  const ending = Deferred.makeUnsafe<void>()
  const release = Deferred.makeUnsafe<void>()
  const store = Layer.effect(
    SessionStore.SessionStore,
    Effect.map(
      Effect.provide(Effect.service(SessionStore.SessionStore), SessionStore.layerMemory()),
      (store): SessionStore.Service => ({
        ...store,
        endAsk: (key, id, end) =>
          id === askId
            ? Deferred.succeed(ending, undefined).pipe(
                Effect.andThen(Deferred.await(release)),
                Effect.andThen(store.endAsk(key, id, end))
              )
            : store.endAsk(key, id, end)
      })
    )
  )
  const layer = Cluster.layerLocal({ agent }).pipe(
    Layer.provideMerge(store),
    Layer.provideMerge(Mock.layer({ turns: [brain("local")] }))
  )
  return { ending, release, layer }
}

const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i)

/**
 * A runner that died while ask `askId` (`email <name>`) waited for approval, as the store keeps
 * it: the session paused (its call committed as waiting), the ask's log up to its
 * `approval_request`, and no end. Made by the agent itself on the same store, writing the log as
 * the entity does, then left paused (its scope is the test's). The number of events logged.
 */
const diedWhilePaused = (key: SessionStore.SessionKey, name: string, askId: string) =>
  Effect.gen(function* () {
    const store = yield* SessionStore.SessionStore
    const dead = yield* Agent.make({ ...agent, store })
    const session = yield* dead.session({ id: key.id, tenant: key.tenant })
    const paused = yield* Deferred.make<number>()
    yield* store.appendEvents(key, askId, [])
    yield* session.askStream(`email ${name}`).pipe(
      Stream.runForEach((event: StreamEvent.StreamEvent) =>
        Effect.flatMap(store.appendEvents(key, askId, [event as never]), (id) =>
          event.type === "approval_request" ? Deferred.succeed(paused, id) : Effect.void
        )
      ),
      Effect.forkScoped
    )
    return yield* Deferred.await(paused)
  })
