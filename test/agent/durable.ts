/**
 * Sessions on a session store through the public API, run against each persistent layer
 * (`durable.fileSystem.test.ts`, `durable.postgres.test.ts`): a "restart" is a new store layer
 * over the same storage and a new agent.
 */
import * as Fs from "node:fs"
import { assert, describe, it } from "@effect/vitest"
import { Effect, type Layer, type Scope } from "effect"
import { Agent, type Data, Mock, type Session, SessionStore } from "../../src/index.js"
import { assertValidHistory } from "../utils/events.js"

export interface Subject {
  readonly name: string
  /** A new store instance over the subject's storage (a restart when built again). */
  readonly layer: () => Layer.Layer<SessionStore.SessionStore, SessionStore.StoreError>
}

/** Runs `f` with an agent over `mock` and a fresh store instance: one "process". */
export const withAgent = <A, E>(
  subject: Subject,
  mock: Mock.Options,
  f: (agent: Agent.Agent, store: SessionStore.Service) => Effect.Effect<A, E, Scope.Scope | Mock.Recorder>,
  options?: Agent.Options<never>
): Effect.Effect<A, E | SessionStore.StoreError> =>
  Effect.scoped(
    Effect.gen(function* () {
      const agent = yield* Agent.make({ cache: false, ...options }).pipe(Effect.orDie)
      return yield* f(agent, yield* SessionStore.SessionStore)
    }).pipe(Effect.provide(Mock.layer(mock)), Effect.provide(subject.layer()))
  ) as Effect.Effect<A, E | SessionStore.StoreError>

const sales = [
  { region: "EU", revenue: 120.5, units: 3, day: new Date("2024-01-02T00:00:00Z") },
  { region: "US", revenue: 80, units: 5, day: new Date("2024-01-03T00:00:00Z") },
  { region: "EU", revenue: 40.25, units: 1, day: new Date("2024-02-01T00:00:00Z") }
]

/** The text of the first tool result of the last message, what a scripted model quotes. */
const quote = Mock.reply(({ lastToolResults }) =>
  Mock.text(`Result: ${String(lastToolResults[0]?.content ?? "(none)")}`)
)

/** The path of a stored handle's data file. */
const dataFileOf = (store: SessionStore.Service, key: SessionStore.SessionKey, name: string) =>
  Effect.gen(function* () {
    const handle = (yield* store.load(key)).handles.find((h) => h.name === name)
    assert.isDefined(handle?.data, `handle ${name} has a data file`)
    return yield* store.dataPath(key, handle!.data!)
  })

const handleNames = (session: Session.Session) =>
  Effect.map(session.handles, (handles: ReadonlyArray<Data.Handle>) => handles.map((h) => h.name))

/** Registers the suite for a layer. */
export const durableSessions = (subject: Subject): void => {
  describe(`sessions on ${subject.name}`, () => {
    it.live("every committed step, and every handle a tool made, is in the store before the next model call", () =>
      Effect.gen(function* () {
        let store: SessionStore.Service | undefined
        let key: SessionStore.SessionKey | undefined
        let checked = 0
        /** A scripted turn that first checks the store holds exactly the history this request sends. */
        const checking =
          (script: Mock.Script, handles: ReadonlyArray<string> = []): Mock.Turn =>
          ({ messages }) =>
            Effect.gen(function* () {
              const stored = yield* store!.load(key!)
              assert.deepStrictEqual(stored.history, messages, `model call ${checked + 1}`)
              for (const name of handles) {
                assert.include(
                  stored.handles.map((h) => h.name),
                  name,
                  `model call ${checked + 1}: handle ${name}`
                )
              }
              checked++
              return script
            }).pipe(Effect.orDie)
        const mock: Mock.Options = {
          turns: [
            checking(
              Mock.toolCall("sql", {
                query: "SELECT region, sum(revenue) AS total FROM sales GROUP BY region",
                save_as: "by_region"
              }),
              ["sales"]
            ),
            checking(
              Mock.toolCalls(
                [{ name: "list_variables" }, { name: "sql", input: { query: "SELECT count(*) AS n FROM by_region" } }],
                "Two more."
              ),
              ["sales", "by_region"]
            ),
            checking(Mock.text("Two regions.")),
            checking(Mock.text("Still two."))
          ],
          chunkSize: 7
        }
        const history = yield* withAgent(subject, mock, (agent, s) =>
          Effect.gen(function* () {
            store = s
            const session = yield* agent.session({ metadata: { title: "checks" } })
            key = { tenant: "default", id: session.id }
            yield* session.put("sales", sales)
            yield* session.ask("Revenue by region?")
            yield* session.ask("And now?")
            return yield* session.history
          })
        )
        assert.strictEqual(checked, 4)
        const stored = yield* withAgent(subject, mock, (_, s) => s.load(key!))
        assert.deepStrictEqual(stored.history, history)
        assertValidHistory(stored.history)
        assert.deepStrictEqual(stored.metadata, { title: "checks" })
        assert.isAbove(stored.usage.outputTokens, 0)
      })
    )

    it.live(
      "resumed after a restart, a session answers over a table put before it: SQL reads the rows back from Parquet",
      () =>
        Effect.gen(function* () {
          const before = yield* withAgent(subject, { turns: [Mock.text("Noted.")] }, (agent) =>
            Effect.gen(function* () {
              const session = yield* agent.session()
              yield* session.put("sales", sales, { description: "daily sales" })
              yield* session.put("settings", { currency: "EUR", regions: ["EU", "US"] })
              yield* session.ask("Remember the sales.")
              return { id: session.id, history: yield* session.history, usage: yield* session.usage }
            })
          )
          const query =
            "SELECT region, sum(revenue) AS total, sum(units) AS units FROM sales GROUP BY region ORDER BY region"
          const mock = { turns: [Mock.toolCall("sql", { query }), quote] }
          yield* withAgent(subject, mock, (agent) =>
            Effect.gen(function* () {
              const session = yield* agent.session({ id: before.id })
              assert.strictEqual(session.id, before.id)
              assert.deepStrictEqual(yield* session.history, before.history)
              assert.deepStrictEqual(yield* session.usage, before.usage)
              const handle = (yield* session.data.get("sales"))!
              // the rows are not in memory: they come from the stored Parquet file
              assert.isUndefined(handle.value)
              assert.strictEqual(handle.description, "daily sales")
              assert.deepStrictEqual(
                yield* session.data.read(handle),
                sales.map((row) => ({ ...row, day: row.day.toISOString() }))
              )
              assert.deepStrictEqual((yield* session.data.get("settings"))!.value, {
                currency: "EUR",
                regions: ["EU", "US"]
              })
              assert.strictEqual((yield* session.lineage("sales")).steps[0]!.kind, "put")
              const answer = yield* session.ask("What is the revenue per region?")
              assert.include(answer, '"rows":[["EU",160.75,4],["US",80,5]]')
              assertValidHistory(yield* session.history)
            })
          )
        })
    )

    it.live(
      "a saved query result is kept: after session.close and after a restart its rows are read from the store",
      () =>
        Effect.gen(function* () {
          const id = yield* withAgent(subject, { turns: [Mock.text("ok")] }, (agent) =>
            Effect.gen(function* () {
              const session = yield* agent.session()
              yield* session.put("sales", sales)
              yield* session.data.saveQuery("eu", "SELECT * FROM sales WHERE region = 'EU'")
              yield* session.ask("Saved?")
              yield* session.close
              // the database was released: the result's rows come back from the store's file
              assert.strictEqual((yield* session.data.query("SELECT count(*) AS n FROM eu")).rows[0]!.n, 2)
              return session.id
            })
          )
          yield* withAgent(subject, { turns: [Mock.text("ok")] }, (agent) =>
            Effect.gen(function* () {
              const session = yield* agent.session({ id })
              const eu = (yield* session.data.get("eu"))!
              assert.strictEqual(eu.query, "SELECT * FROM sales WHERE region = 'EU'")
              assert.strictEqual((yield* session.data.query("SELECT sum(units) AS u FROM eu")).rows[0]!.u, 4)
              const lineage = yield* session.lineage("eu")
              assert.deepStrictEqual(
                lineage.steps.map((step) => step.name),
                ["eu", "sales"]
              )
            })
          )
        })
    )

    it.live(
      "a fork answers on its own: the parent's history and handles stay as they were, and data files are shared, not copied",
      () =>
        Effect.gen(function* () {
          const mock = {
            turns: [
              Mock.text("Parent noted."),
              Mock.toolCall("sql", {
                query: "SELECT region, sum(revenue) AS total FROM sales GROUP BY ALL",
                save_as: "totals"
              }),
              Mock.text("Fork computed totals.")
            ]
          }
          const ids = yield* withAgent(subject, mock, (agent, store) =>
            Effect.gen(function* () {
              const parent = yield* agent.session()
              yield* parent.put("sales", sales)
              yield* parent.ask("Keep the sales.")
              const parentHistory = yield* parent.history
              const fork = yield* parent.fork()
              assert.notStrictEqual(fork.id, parent.id)
              assert.deepStrictEqual(yield* fork.history, parentHistory)
              yield* fork.ask("Totals by region?")
              yield* fork.put("note", "fork only")
              yield* fork.remove("sales")
              // the parent did not change
              assert.deepStrictEqual(yield* parent.history, parentHistory)
              assert.deepStrictEqual(yield* handleNames(parent), ["sales"])
              assert.deepStrictEqual(yield* handleNames(fork), ["totals", "note"])
              const parentKey = { tenant: "default", id: parent.id }
              const forkKey = { tenant: "default", id: fork.id }
              assert.deepStrictEqual((yield* store.load(forkKey)).forkedFrom, {
                id: parent.id,
                seq: (yield* store.load(parentKey)).seq
              })
              return { parent: parent.id, fork: fork.id, parentHistory }
            })
          )
          yield* withAgent(subject, { turns: [Mock.text("ok")] }, (agent, store) =>
            Effect.gen(function* () {
              const parent = yield* agent.session({ id: ids.parent })
              assert.deepStrictEqual(yield* parent.history, ids.parentHistory)
              assert.deepStrictEqual(yield* handleNames(parent), ["sales"])
              const fork = yield* agent.session({ id: ids.fork })
              assert.deepStrictEqual(yield* handleNames(fork), ["totals", "note"])
              assert.isAbove((yield* fork.history).length, ids.parentHistory.length)
              // a second fork, taken before the first removed `sales`, shares its file with the parent
              const again = yield* parent.fork({ id: `${ids.parent}-b` })
              const a = Fs.statSync(yield* dataFileOf(store, { tenant: "default", id: ids.parent }, "sales"))
              const b = Fs.statSync(yield* dataFileOf(store, { tenant: "default", id: again.id }, "sales"))
              assert.strictEqual(a.ino, b.ino, "one file, two links")
              // the parent, the first fork (removing a handle keeps the session's file) and this one
              assert.strictEqual(a.nlink, 3)
              assert.deepStrictEqual((yield* again.data.query("SELECT count(*) AS n FROM sales")).rows, [{ n: 3 }])
            })
          )
        })
    )

    it.live(
      "agent.sessions lists the stored sessions and deleteSession removes one; resuming a deleted one is NotFound",
      () =>
        Effect.gen(function* () {
          const tenant = `list-${Date.now()}`
          yield* withAgent(
            subject,
            { turns: [Mock.text("ok")] },
            (agent) =>
              Effect.gen(function* () {
                const a = yield* agent.session({ id: "a", create: true, metadata: { title: "A" } })
                yield* agent.session({ id: "b", create: true })
                yield* a.ask("hi")
                assert.deepStrictEqual(
                  (yield* agent.sessions()).map((s) => [s.id, s.metadata?.title]),
                  [
                    ["a", "A"],
                    ["b", undefined]
                  ]
                )
                yield* agent.deleteSession("b")
                assert.deepStrictEqual(
                  (yield* agent.sessions()).map((s) => s.id),
                  ["a"]
                )
                const missing = yield* Effect.flip(agent.session({ id: "b" }))
                assert.strictEqual(missing.reason, "NotFound")
                const taken = yield* Effect.flip(agent.session({ id: "a", create: true }))
                assert.strictEqual(taken.reason, "AlreadyExists")
                const either = yield* agent.session({ id: "a", create: "ifMissing" })
                assert.strictEqual((yield* either.history).length, 2)
                const made = yield* agent.session({ id: "c", create: "ifMissing" })
                assert.deepStrictEqual(yield* made.history, [])
              }),
            { tenant }
          )
        })
    )

    it.live(
      "a compaction is committed: the resumed session has the summary, the offloaded result's handle and the summary's usage",
      () =>
        Effect.gen(function* () {
          const big = Array.from({ length: 40 }, (_, i) => ({ i, label: `row ${i}` }))
          const mock: Mock.Options = {
            turns: [
              Mock.toolCall("sql", { query: "SELECT * FROM big" }),
              Mock.text("Forty rows."),
              Mock.text("Noted."),
              {
                text: "The user looked at 40 rows of big and asked me to remember ORCHID-42.",
                usage: { outputTokens: 9 }
              },
              quote
            ]
          }
          const compacted = yield* withAgent(
            subject,
            mock,
            (agent) =>
              Effect.gen(function* () {
                const session = yield* agent.session()
                yield* session.put("big", big)
                yield* session.ask("Show me big.")
                yield* session.ask("Remember: the code is ORCHID-42.")
                const record = yield* session.compact
                assert.isDefined(record)
                assert.strictEqual(record!.offloaded.length, 1)
                return {
                  id: session.id,
                  history: yield* session.history,
                  usage: yield* session.usage,
                  handles: yield* handleNames(session),
                  offloaded: record!.offloaded[0]!.handle
                }
              }),
            { compaction: { keepTurns: 1, offloadOver: 200 } }
          )
          const resumed = yield* withAgent(subject, mock, (agent) =>
            Effect.gen(function* () {
              const session = yield* agent.session({ id: compacted.id })
              return {
                history: yield* session.history,
                usage: yield* session.usage,
                handles: yield* handleNames(session)
              }
            })
          )
          assert.deepStrictEqual(resumed.history, compacted.history)
          assertValidHistory(resumed.history)
          assert.include(JSON.stringify(resumed.history[0]), "ORCHID-42")
          assert.deepStrictEqual(resumed.usage, compacted.usage)
          assert.include(resumed.handles, compacted.offloaded)
          assert.deepStrictEqual([...resumed.handles].sort(), [...compacted.handles].sort())
        })
    )
  })
}
