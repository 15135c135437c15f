/**
 * A session store that fails or is written by someone else: the ask fails with the store's typed
 * error, and the session goes back to what the store holds at its next ask.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Layer } from "effect"
import { Agent, Message, Mock, SessionStore, Usage } from "../../src/index.js"
import { assertValidHistory } from "../utils/events.js"

/** The memory store, with commits that fail while `failing.on` is set (a disk that filled up). */
const failingStore = (failing: { on: boolean }) =>
  Layer.effect(
    SessionStore.SessionStore,
    Effect.map(SessionStore.SessionStore, (store) => ({
      ...store,
      commit: (key, steps, options) =>
        failing.on
          ? Effect.fail(
              new SessionStore.StoreError({ reason: "Io", message: "Could not commit to the session: no space left." })
            )
          : store.commit(key, steps, options)
    }))
  ).pipe(Layer.provide(SessionStore.layerMemory()))

describe("sessions whose store fails or has another writer", () => {
  it.live(
    "a commit the store refuses fails the ask with StoreError; the next ask starts from what the store holds",
    () =>
      Effect.gen(function* () {
        const failing = { on: false }
        // the disk fills up while the model answers the second ask: its prompt is stored, its turn is not
        const mock = Mock.layer({
          turns: [
            Mock.text("first"),
            Mock.reply(() => {
              failing.on = true
              return Mock.text("second")
            }),
            Mock.text("third")
          ]
        })
        yield* Effect.scoped(
          Effect.gen(function* () {
            const store = yield* SessionStore.SessionStore
            const agent = yield* Agent.make()
            const session = yield* agent.session()
            const key = { tenant: "default", id: session.id }
            assert.strictEqual(yield* session.ask("one"), "first")
            const error = yield* Effect.flip(session.ask("two"))
            assert.strictEqual(error._tag, "StoreError")
            assert.strictEqual((error as SessionStore.StoreError).reason, "Io")
            failing.on = false
            assert.strictEqual(yield* session.ask("three"), "third")
            const history = yield* session.history
            assert.deepStrictEqual(history, (yield* store.load(key)).history)
            assertValidHistory(history)
            assert.deepStrictEqual(history.at(-1), Message.assistant("third"))
            // the turn the store refused is gone; both prompts are there, in one user message
            assert.deepStrictEqual(history.at(-2), Message.user([Message.text("two"), Message.text("three")]))
            assert.notInclude(JSON.stringify(history), "second")
          }).pipe(Effect.provide(mock), Effect.provide(failingStore(failing)))
        )
      })
  )

  it.live("two writers on one session: the one behind fails with Conflict, then resumes with the other's steps", () =>
    Effect.scoped(
      Effect.gen(function* () {
        const agent = yield* Agent.make()
        const a = yield* agent.session({ id: "shared", create: true })
        const b = yield* agent.session({ id: "shared" })
        assert.strictEqual(yield* a.ask("from a"), "one")
        const conflict = yield* Effect.flip(b.ask("from b"))
        assert.strictEqual(conflict._tag, "StoreError")
        assert.strictEqual((conflict as SessionStore.StoreError).reason, "Conflict")
        assert.strictEqual(yield* b.ask("from b again"), "two")
        const history = yield* b.history
        assertValidHistory(history)
        assert.deepStrictEqual(history[0], Message.user("from a"))
        assert.deepStrictEqual(history[1], Message.assistant("one"))
      }).pipe(
        Effect.provide(Mock.layer({ turns: [Mock.text("one"), Mock.text("two")] })),
        Effect.provide(SessionStore.layerMemory())
      )
    )
  )

  it.live("the store and the agent close an unanswered tool call with the same rule", () =>
    Effect.scoped(
      Effect.gen(function* () {
        const use: Message.ContentBlock = { type: "tool_use", id: "toolu_1", name: "sql", input: { query: "SELECT 1" } }
        const saved = [Message.user("q"), Message.assistant([Message.text("Let me look."), use])]
        const store = yield* SessionStore.SessionStore
        const created = yield* store.create("t")
        const key = { tenant: "t", id: created.id }
        yield* store.commit(key, [SessionStore.userStep("q"), SessionStore.turnStep(saved[1]!.content, Usage.empty)])
        const loaded = (yield* store.load(key)).history
        const agent = yield* Agent.make({ store: false })
        const session = yield* agent.session({ history: saved })
        assert.deepStrictEqual(yield* session.history, loaded)
        assert.deepStrictEqual(
          loaded.at(-1),
          Message.user([Message.toolResult("toolu_1", Message.unansweredText, true)])
        )
      }).pipe(Effect.provide(Mock.layer({ turns: [Mock.text("ok")] })), Effect.provide(SessionStore.layerMemory()))
    )
  )

  it.live("without a store, resuming by id and forking fail with InvalidInput that says what to provide", () =>
    Effect.scoped(
      Effect.gen(function* () {
        const agent = yield* Agent.make()
        const resume = yield* Effect.flip(agent.session({ id: "x" }))
        assert.strictEqual(resume.reason, "InvalidInput")
        assert.include(resume.message, "SessionStore")
        const session = yield* agent.session({ id: "given", create: true })
        assert.strictEqual(session.id, "given")
        const fork = yield* Effect.flip(session.fork())
        assert.strictEqual(fork.reason, "InvalidInput")
        assert.include(fork.message, "SessionStore")
      }).pipe(Effect.provide(Mock.layer({ turns: [Mock.text("ok")] })))
    )
  )
})
