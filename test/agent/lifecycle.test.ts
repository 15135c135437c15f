/**
 * A session is a scoped resource: its data store (and the DuckDB under it) is released when the
 * session's scope closes, on success, failure and interruption; one-shot runs release theirs
 * when the run ends, however it ends.
 *
 * The public signal that a store's database was closed: a saved query result lives only in the
 * database, so closing the store removes its handle (`Data.Store.close`). Each test saves one
 * (`saveQuery`, which opens the DuckDB) and checks the handle list of the very store object
 * after the scope or run has ended.
 */
import { assert, describe, it } from "@effect/vitest"
import { Deferred, Effect, Exit, Fiber, Schema, Stream } from "effect"
import { Agent, Data, Mock, Tool } from "../../src/index.js"

/** The names of a store's handles. */
const names = (store: Data.Store) => Effect.map(store.list, (handles) => handles.map((handle) => handle.name).sort())

/** Opens the store's database and saves a result that lives only in it. */
const saveInDatabase = (store: Data.Store) => store.saveQuery("in_database", "SELECT 42 AS answer")

/** A tool that saves a query result in the session's database and hands the store out. */
const capturing = () => {
  const stores: Array<Data.Store> = []
  const tool = Tool.make("save_in_database", {
    description: "Saves a query result in the session database.",
    parameters: Schema.Struct({}),
    handler: (_input, context) =>
      Effect.suspend(() => {
        stores.push(context.data)
        return Effect.orDie(saveInDatabase(context.data))
      })
  })
  return { tool, stores }
}

const scripted = Mock.layer({ turns: [Mock.toolCall("save_in_database"), Mock.text("saved")] })

describe("a session is a scoped resource", () => {
  it.effect("closing the session's scope closes its database", () =>
    Effect.gen(function* () {
      const agent = yield* Agent.make()
      const store = yield* Effect.scoped(
        Effect.gen(function* () {
          const session = yield* agent.session()
          yield* session.put("sales", [{ region: "EU", revenue: 120 }])
          yield* saveInDatabase(session.data)
          assert.deepStrictEqual(yield* names(session.data), ["in_database", "sales"])
          return session.data
        })
      )
      // the saved result lived only in the database: gone with it; the put table stays
      assert.deepStrictEqual(yield* names(store), ["sales"])
    }).pipe(Effect.provide(scripted))
  )

  it.effect("a scope that fails closes the database too", () =>
    Effect.gen(function* () {
      const agent = yield* Agent.make()
      let store: Data.Store | undefined
      const exit = yield* Effect.exit(
        Effect.scoped(
          Effect.gen(function* () {
            const session = yield* agent.session()
            store = session.data
            yield* saveInDatabase(store)
            return yield* Effect.fail("the caller failed")
          })
        )
      )
      assert.isTrue(Exit.isFailure(exit))
      assert.deepStrictEqual(yield* names(store!), [])
    }).pipe(Effect.provide(scripted))
  )

  it.live("interrupting the fiber that holds the session's scope closes its database", () =>
    Effect.gen(function* () {
      const agent = yield* Agent.make()
      const ready = yield* Deferred.make<Data.Store>()
      const fiber = yield* Effect.forkChild(
        Effect.scoped(
          Effect.gen(function* () {
            const session = yield* agent.session()
            yield* saveInDatabase(session.data)
            yield* Deferred.succeed(ready, session.data)
            return yield* Effect.never
          })
        )
      )
      const store = yield* Deferred.await(ready)
      assert.deepStrictEqual(yield* names(store), ["in_database"])
      yield* Fiber.interrupt(fiber)
      assert.deepStrictEqual(yield* names(store), [])
    }).pipe(Effect.provide(scripted))
  )

  it.effect("withSession releases the session when its function ends", () =>
    Effect.gen(function* () {
      const agent = yield* Agent.make()
      const store = yield* agent.withSession((session) =>
        Effect.as(Effect.andThen(session.put("t", [{ a: 1 }]), saveInDatabase(session.data)), session.data)
      )
      assert.deepStrictEqual(yield* names(store), ["t"])
    }).pipe(Effect.provide(scripted))
  )

  it.effect("a store the caller passes in is the caller's: the session's scope does not close it", () =>
    Effect.gen(function* () {
      const agent = yield* Agent.make()
      const store = yield* Data.makeStore
      yield* agent.withSession((session) => saveInDatabase(session.data), { data: store })
      assert.deepStrictEqual(yield* names(store), ["in_database"])
      yield* store.close
      assert.deepStrictEqual(yield* names(store), [])
    }).pipe(Effect.provide(scripted))
  )

  it.effect("session.close releases the database early; the session stays usable", () =>
    Effect.gen(function* () {
      const agent = yield* Agent.make()
      yield* agent.withSession((session) =>
        Effect.gen(function* () {
          yield* saveInDatabase(session.data)
          yield* session.close
          assert.deepStrictEqual(yield* names(session.data), [])
          // the database reopens on demand
          yield* saveInDatabase(session.data)
          assert.deepStrictEqual(yield* names(session.data), ["in_database"])
        })
      )
    }).pipe(Effect.provide(scripted))
  )
})

describe("one-shot runs release their session when the run ends", () => {
  it.effect("agent.run", () =>
    Effect.gen(function* () {
      const { tool, stores } = capturing()
      const agent = yield* Agent.make({ tools: [tool] })
      assert.strictEqual(yield* agent.run("save something"), "saved")
      assert.strictEqual(stores.length, 1)
      assert.deepStrictEqual(yield* names(stores[0]!), [])
    }).pipe(Effect.provide(scripted))
  )

  it.effect("agent.runResult", () =>
    Effect.gen(function* () {
      const { tool, stores } = capturing()
      const agent = yield* Agent.make({ tools: [tool] })
      assert.strictEqual((yield* agent.runResult("save something")).text, "saved")
      assert.deepStrictEqual(yield* names(stores[0]!), [])
    }).pipe(Effect.provide(scripted))
  )

  it.effect("agent.runStream, read to its end", () =>
    Effect.gen(function* () {
      const { tool, stores } = capturing()
      const agent = yield* Agent.make({ tools: [tool] })
      yield* Stream.runDrain(agent.runStream("save something"))
      assert.deepStrictEqual(yield* names(stores[0]!), [])
    }).pipe(Effect.provide(scripted))
  )

  it.effect("agent.runStream, left by a consumer that stops after the tool result", () =>
    Effect.gen(function* () {
      const { tool, stores } = capturing()
      const agent = yield* Agent.make({ tools: [tool] })
      const events = yield* Stream.runCollect(
        agent.runStream("save something").pipe(Stream.takeUntil((event) => event.type === "tool_result"))
      )
      assert.strictEqual(events[events.length - 1]?.type, "tool_result")
      assert.deepStrictEqual(yield* names(stores[0]!), [])
    }).pipe(Effect.provide(scripted))
  )

  it.effect("agent.run that fails after the tool ran", () =>
    Effect.gen(function* () {
      const { tool, stores } = capturing()
      const agent = yield* Agent.make({ tools: [tool], maxTurns: 2 })
      const exit = yield* Effect.exit(agent.run("save something"))
      assert.isTrue(Exit.isFailure(exit))
      assert.deepStrictEqual(yield* names(stores[0]!), [])
    }).pipe(Effect.provide(Mock.layer({ turns: [Mock.toolCall("save_in_database"), Mock.toolCall("again")] })))
  )
})
