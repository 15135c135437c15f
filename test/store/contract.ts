import * as FsP from "node:fs/promises"
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import * as Message from "../../src/core/Message.js"
import * as Usage from "../../src/core/Usage.js"
import * as SessionStore from "../../src/store/SessionStore.js"
import { assertValidHistory } from "../utils/events.js"
import { crashTests } from "./crash.js"
import { eventAndDataTests } from "./eventsAndData.js"
import { firstResults, firstTurn, lastTurn, prompt, readParquet, tableSnapshot, writeParquet } from "./fixtures.js"
import { assertResultsFirst, reasonOf, type Subject, tempFile, tenantName, withStore } from "./helpers.js"

export type { Subject } from "./helpers.js"

/** Registers the contract suite for a layer. */
export const storeContract = (subject: Subject): void => {
  describe(`SessionStore contract: ${subject.name}`, () => {
    it.live("round trip: every block kind and handle kind come back byte for byte, also after a restart", () =>
      Effect.gen(function* () {
        const tenant = tenantName("Acme Corp / ünïcode")
        const parquet = yield* tempFile("sales.parquet")
        yield* writeParquet(parquet)
        const { key, ref } = yield* withStore(subject, (store) =>
          Effect.gen(function* () {
            const session = yield* store.create(tenant, {
              options: { model: "claude-sonnet-4-6", maxTurns: 25, timeouts: { idle: "30 seconds" } },
              metadata: { title: "Revenue", user: "u1" }
            })
            const key = { tenant, id: session.id }
            const ref = yield* store.importData(key, parquet)
            const handles: ReadonlyArray<SessionStore.StoredHandle> = [
              { name: "answer", snapshot: { kind: "scalar", type: "integer", value: 42 }, value: 42 },
              {
                name: "config",
                description: "settings",
                snapshot: { kind: "object", keys: ["a"], preview: { a: [1, "x"] } },
                value: { a: [1, "x"] }
              },
              {
                name: "sales",
                snapshot: tableSnapshot,
                data: ref,
                lineage: { origin: "put" },
                added_later: { x: [1] }
              },
              { name: "orders", snapshot: tableSnapshot, path: "/srv/data/orders.parquet", format: "parquet" },
              {
                name: "query_1",
                snapshot: tableSnapshot,
                query: "SELECT region, sum(revenue) FROM sales GROUP BY 1",
                data: ref,
                lineage: { parents: ["sales"], tool: "sql", toolUseId: "toolu_01" }
              },
              { name: "scratch", snapshot: { kind: "array", length: 1, sample: [1] }, value: [1] }
            ]
            yield* store.commit(key, [SessionStore.userStep(prompt), ...handles.map(SessionStore.putHandleStep)])
            yield* store.commit(key, SessionStore.turnStep(firstTurn, Usage.make({ inputTokens: 50, outputTokens: 9 })))
            yield* store.commit(key, SessionStore.toolResultsStep(firstResults.slice(0, 1)))
            yield* store.commit(key, [
              SessionStore.toolResultsStep(firstResults.slice(1)),
              SessionStore.removeHandleStep("scratch")
            ])
            yield* store.commit(key, [
              SessionStore.usageStep(Usage.make({ inputTokens: 3, cacheWriteTokens: 2 })),
              SessionStore.turnStep(lastTurn, Usage.make({ inputTokens: 70, outputTokens: 6, cacheReadTokens: 40 }))
            ])
            const seq = yield* store.commit(key, SessionStore.optionsStep({ model: "claude-opus-4-1" }))
            assert.strictEqual(seq, 6)
            return { key, ref }
          })
        )

        const expectedHistory: Message.History = [
          Message.user(prompt),
          Message.assistant(firstTurn),
          Message.user(firstResults),
          Message.assistant(lastTurn)
        ]
        const check = (session: SessionStore.StoredSession) => {
          assert.strictEqual(Message.encodeHistory(session.history), Message.encodeHistory(expectedHistory))
          assert.deepStrictEqual(session.history, expectedHistory)
          assertValidHistory(session.history)
          assert.strictEqual(session.seq, 6)
          assert.deepStrictEqual(
            session.usage,
            Usage.make({ inputTokens: 123, outputTokens: 15, cacheReadTokens: 40, cacheWriteTokens: 2 })
          )
          assert.deepStrictEqual(session.options, { model: "claude-opus-4-1" })
          assert.deepStrictEqual(session.metadata, { title: "Revenue", user: "u1" })
          assert.deepStrictEqual(
            session.handles.map((handle) => handle.name),
            ["answer", "config", "sales", "orders", "query_1"]
          )
          const sales = session.handles.find((handle) => handle.name === "sales")!
          assert.deepStrictEqual(sales, {
            name: "sales",
            snapshot: tableSnapshot,
            data: ref,
            lineage: { origin: "put" },
            added_later: { x: [1] }
          })
        }
        const [again, rows] = yield* withStore(subject, (store) =>
          Effect.gen(function* () {
            const session = yield* store.load(key)
            return [session, yield* readParquet(yield* store.dataPath(key, ref))] as const
          })
        )
        check(again)
        assert.deepStrictEqual(rows, [
          { region: "EU", revenue: 120 },
          { region: "US", revenue: 80 }
        ])
      })
    )

    it.live("create, load, list (per tenant, in id order, paged) and delete", () =>
      withStore(subject, (store) =>
        Effect.gen(function* () {
          const tenant = tenantName("list")
          for (const id of ["b-2", "a-1", "c-3"]) yield* store.create(tenant, { id, metadata: { id } })
          const generated = yield* store.create(tenant, { id: "z-4" })
          assert.match((yield* store.create(tenantName("generated"))).id, /^[0-9a-f]{8}-[0-9a-f-]{27}$/)
          const all = yield* store.list(tenant)
          assert.deepStrictEqual(
            all.map((info) => info.id),
            ["a-1", "b-2", "c-3", generated.id]
          )
          assert.deepStrictEqual(all.find((info) => info.id === "a-1")?.metadata, { id: "a-1" })
          const page = yield* store.list(tenant, { after: "a-1", limit: 1 })
          assert.deepStrictEqual(
            page.map((info) => info.id),
            ["b-2"]
          )
          const loaded = yield* store.load({ tenant, id: "b-2" })
          assert.strictEqual(loaded.seq, 0)
          assert.deepStrictEqual(loaded.history, [])
          assert.isAtMost(loaded.createdAt, Date.now())
          assert.strictEqual(yield* reasonOf(store.create(tenant, { id: "b-2" })), "AlreadyExists")
          // a failed create leaves the existing session and its data as they were
          const file = yield* tempFile("kept.parquet")
          yield* Effect.promise(() => FsP.writeFile(file, "PAR1 kept"))
          const ref = yield* store.importData({ tenant, id: "a-1" }, file)
          yield* store.commit({ tenant, id: "a-1" }, SessionStore.userStep("kept"))
          assert.strictEqual(yield* reasonOf(store.create(tenant, { id: "a-1" })), "AlreadyExists")
          assert.strictEqual((yield* store.load({ tenant, id: "a-1" })).seq, 1)
          const kept = yield* store.dataPath({ tenant, id: "a-1" }, ref)
          assert.strictEqual(yield* Effect.promise(() => FsP.readFile(kept, "utf8")), "PAR1 kept")
          yield* store.delete({ tenant, id: "b-2" })
          assert.strictEqual(yield* reasonOf(store.load({ tenant, id: "b-2" })), "NotFound")
          assert.strictEqual(yield* reasonOf(store.delete({ tenant, id: "b-2" })), "NotFound")
          assert.notInclude(
            (yield* store.list(tenant)).map((info) => info.id),
            "b-2"
          )
          // a deleted id can be created again, empty
          yield* store.create(tenant, { id: "b-2" })
          assert.strictEqual((yield* store.load({ tenant, id: "b-2" })).seq, 0)
          // the list follows creates, forks, deletes and commits made after it was read
          const before = (yield* store.list(tenant)).find((info) => info.id === "c-3")!
          yield* store.fork({ tenant, id: "a-1" }, { id: "a-2" })
          yield* store.delete({ tenant, id: "z-4" })
          yield* Effect.sleep("5 millis")
          yield* store.commit({ tenant, id: "c-3" }, SessionStore.userStep("later"))
          const after = yield* store.list(tenant)
          assert.deepStrictEqual(
            after.map((info) => info.id),
            ["a-1", "a-2", "b-2", "c-3"]
          )
          assert.deepStrictEqual(after[1]!.forkedFrom, { id: "a-1", seq: 1 })
          assert.isAbove(after[3]!.updatedAt, before.updatedAt)
        })
      )
    )

    it.live("another tenant's session id is NotFound for every operation, never listed", () =>
      withStore(subject, (store) =>
        Effect.gen(function* () {
          const a = tenantName("tenant a")
          const b = tenantName("tenant b")
          yield* store.create(a, { id: "shared" })
          const ofA = { tenant: a, id: "shared" }
          yield* store.commit(ofA, SessionStore.userStep("secret of a"))
          yield* store.appendEvents(ofA, "ask-1", [{ type: "ping" }])
          const file = yield* tempFile("x.parquet")
          yield* Effect.promise(() => FsP.writeFile(file, "PAR1 data of a"))
          const ref = yield* store.importData(ofA, file)

          const ofB = { tenant: b, id: "shared" }
          const reasons = yield* Effect.all([
            reasonOf(store.load(ofB)),
            reasonOf(store.commit(ofB, SessionStore.userStep("hi"))),
            reasonOf(store.fork(ofB)),
            reasonOf(store.delete(ofB)),
            reasonOf(store.appendEvents(ofB, "ask-1", [{ type: "x" }])),
            reasonOf(store.endAsk(ofB, "ask-1", { status: "completed" })),
            reasonOf(store.readEvents(ofB, "ask-1")),
            reasonOf(store.asks(ofB)),
            reasonOf(store.importData(ofB, file)),
            reasonOf(store.dataPath(ofB, ref))
          ])
          assert.deepStrictEqual(reasons, Array(10).fill("NotFound"))
          assert.deepStrictEqual(yield* store.list(b), [])

          // the same id in tenant b is a session of its own
          yield* store.create(b, { id: "shared" })
          yield* store.commit(ofB, SessionStore.userStep("b's own"))
          assert.deepStrictEqual((yield* store.load(ofA)).history, [Message.user("secret of a")])
          assert.deepStrictEqual((yield* store.load(ofB)).history, [Message.user("b's own")])
          assert.strictEqual(yield* reasonOf(store.readEvents(ofB, "ask-1")), "NotFound")
          assert.strictEqual(yield* reasonOf(store.dataPath(ofB, ref)), "NotFound")
        })
      )
    )

    it.live("a fork copies the session, shares its data files, and then changes independently", () =>
      Effect.gen(function* () {
        const tenant = tenantName("fork")
        const file = yield* tempFile("t.parquet")
        yield* Effect.promise(() => FsP.writeFile(file, "PAR1 shared table bytes"))
        const parent = { tenant, id: "parent" }
        const { fork, ref } = yield* withStore(subject, (store) =>
          Effect.gen(function* () {
            yield* store.create(tenant, { id: "parent", options: { maxTurns: 3 }, metadata: { title: "p" } })
            const ref = yield* store.importData(parent, file)
            yield* store.commit(parent, [
              SessionStore.userStep("q1"),
              SessionStore.putHandleStep({ name: "t", snapshot: tableSnapshot, data: ref })
            ])
            yield* store.commit(parent, SessionStore.turnStep(lastTurn, Usage.make({ outputTokens: 4 })))
            yield* store.appendEvents(parent, "ask-1", [{ type: "message_start" }])
            const fork = yield* store.fork(parent)
            assert.notStrictEqual(fork.id, "parent")
            assert.deepStrictEqual(fork.forkedFrom, { id: "parent", seq: 2 })
            const original = yield* store.load(parent)
            assert.deepStrictEqual(fork.history, original.history)
            assert.deepStrictEqual(fork.handles, original.handles)
            assert.deepStrictEqual(fork.usage, original.usage)
            assert.deepStrictEqual(fork.options, { maxTurns: 3 })
            assert.deepStrictEqual(fork.metadata, { title: "p" })
            assert.strictEqual(fork.seq, 2)
            // event logs belong to the asks of the parent
            assert.deepStrictEqual(yield* store.asks({ tenant, id: fork.id }), [])
            // the data file is shared: one file on disk, not a copy
            const parentPath = yield* store.dataPath(parent, ref)
            const forkPath = yield* store.dataPath({ tenant, id: fork.id }, ref)
            const [p, f] = yield* Effect.promise(() => Promise.all([FsP.stat(parentPath), FsP.stat(forkPath)]))
            assert.strictEqual(f.ino, p.ino)
            assert.strictEqual(yield* reasonOf(store.fork(parent, { id: fork.id })), "AlreadyExists")

            // each goes its own way
            yield* store.commit(parent, SessionStore.userStep("parent's q2"))
            yield* store.commit({ tenant, id: fork.id }, [
              SessionStore.userStep("fork's q2"),
              SessionStore.removeHandleStep("t")
            ])
            return { fork, ref }
          })
        )
        yield* withStore(subject, (store) =>
          Effect.gen(function* () {
            const p = yield* store.load(parent)
            const f = yield* store.load({ tenant, id: fork.id })
            assert.deepStrictEqual(p.history.at(-1), Message.user("parent's q2"))
            assert.deepStrictEqual(f.history.at(-1), Message.user("fork's q2"))
            assert.deepStrictEqual(
              p.handles.map((h) => h.name),
              ["t"]
            )
            assert.deepStrictEqual(f.handles, [])
            // deleting the parent keeps the fork's data
            yield* store.delete(parent)
            const path = yield* store.dataPath({ tenant, id: fork.id }, ref)
            assert.strictEqual(yield* Effect.promise(() => FsP.readFile(path, "utf8")), "PAR1 shared table bytes")
            assert.strictEqual(yield* reasonOf(store.dataPath(parent, ref)), "NotFound")
          })
        )
      })
    )

    it.live("an invalid commit is refused whole, with a typed error, and writes nothing", () =>
      withStore(subject, (store) =>
        Effect.gen(function* () {
          const tenant = tenantName("invalid")
          const key = { tenant, id: "s" }
          yield* store.create(tenant, { id: "s" })
          const turn = SessionStore.turnStep(lastTurn, Usage.empty)
          assert.strictEqual(yield* reasonOf(store.commit(key, turn)), "InvalidStep")
          yield* store.commit(key, SessionStore.userStep("q"))
          const orphan = SessionStore.toolResultsStep([Message.toolResult("toolu_nobody", "x")])
          assert.strictEqual(
            yield* reasonOf(
              store.commit(key, [SessionStore.putHandleStep({ name: "h", snapshot: { kind: "scalar" } }), orphan])
            ),
            "InvalidStep"
          )
          assert.strictEqual(
            yield* reasonOf(store.commit(key, SessionStore.userStep([Message.toolResult("toolu_x", "x")]))),
            "InvalidStep"
          )
          // not JSON, or not a valid block: nothing is written
          const date = { name: "d", snapshot: { kind: "scalar" }, value: new Date() } as never
          assert.strictEqual(yield* reasonOf(store.commit(key, SessionStore.putHandleStep(date))), "InvalidInput")
          const badBlock = { type: "tool_use", name: "sql", input: {} } as never
          assert.strictEqual(
            yield* reasonOf(store.commit(key, SessionStore.turnStep([badBlock], Usage.empty))),
            "InvalidInput"
          )
          assert.strictEqual(yield* reasonOf(store.commit(key, [])), "InvalidInput")
          // expectedSeq guards against another writer
          assert.strictEqual(yield* reasonOf(store.commit(key, turn, { expectedSeq: 0 })), "Conflict")
          assert.strictEqual(yield* store.commit(key, turn, { expectedSeq: 1 }), 2)
          const session = yield* store.load(key)
          assert.strictEqual(session.seq, 2)
          assert.deepStrictEqual(session.handles, [])
          assert.deepStrictEqual(session.history, [Message.user("q"), Message.assistant(lastTurn)])
          const error = yield* Effect.flip(store.commit(key, orphan))
          assert.include(error.message, "toolu_nobody")
          assert.isFalse(error.isRetryable)
        })
      )
    )

    it.live(
      "tool calls without committed results load answered by synthetic errors, and later steps keep the history valid",
      () =>
        withStore(subject, (store) =>
          Effect.gen(function* () {
            const tenant = tenantName("repair")
            const key = { tenant, id: "s" }
            yield* store.create(tenant, { id: "s" })
            const calls: ReadonlyArray<Message.ContentBlock> = [
              { type: "tool_use", id: "toolu_a", name: "sql", input: { sql: "SELECT 1" } },
              { type: "tool_use", id: "toolu_b", name: "sql", input: { sql: "SELECT 2" } }
            ]
            const unanswered = (id: string) =>
              Message.toolResult(id, "Tool call did not run: the conversation was saved before it finished.", true)
            yield* store.commit(key, SessionStore.userStep("q"))
            yield* store.commit(key, SessionStore.turnStep(calls, Usage.empty))
            const crashed = yield* store.load(key)
            assert.deepStrictEqual(crashed.history.at(-1), Message.user([unanswered("toolu_a"), unanswered("toolu_b")]))
            assertValidHistory(crashed.history)

            yield* store.commit(key, SessionStore.toolResultsStep([Message.toolResult("toolu_a", "1")]))
            const half = yield* store.load(key)
            assert.deepStrictEqual(
              half.history.at(-1),
              Message.user([Message.toolResult("toolu_a", "1"), unanswered("toolu_b")])
            )
            assertValidHistory(half.history)

            // the next question after a crash: the missing result is answered first, then the text
            yield* store.commit(key, SessionStore.userStep("next question"))
            yield* store.commit(key, SessionStore.turnStep(calls.slice(0, 1), Usage.empty))
            // a turn right after unanswered calls (no results committed): still valid
            yield* store.commit(key, SessionStore.turnStep(lastTurn, Usage.empty))
            const session = yield* store.load(key)
            assert.deepStrictEqual(session.history.slice(2), [
              Message.user([Message.toolResult("toolu_a", "1"), unanswered("toolu_b"), Message.text("next question")]),
              Message.assistant(calls.slice(0, 1)),
              Message.user([unanswered("toolu_a")]),
              Message.assistant(lastTurn)
            ])
            assertValidHistory(session.history)
            assertResultsFirst(session.history)
            // a result for a call that was already answered synthetically is refused
            assert.strictEqual(
              yield* reasonOf(store.commit(key, SessionStore.toolResultsStep([Message.toolResult("toolu_b", "2")]))),
              "InvalidStep"
            )
          })
        )
    )

    eventAndDataTests(subject)
    crashTests(subject)
  })
}
