/**
 * The store contract: one suite every `SessionStore` layer must pass (memory, file system,
 * Postgres). Each test uses its own tenants, so suites can share storage.
 */
import * as Crypto from "node:crypto"
import * as FsP from "node:fs/promises"
import * as Os from "node:os"
import * as Path from "node:path"
import { DuckDBInstance } from "@duckdb/node-api"
import { afterAll, assert, describe, it } from "@effect/vitest"
import { Effect, Exit, type Layer, type Scope } from "effect"
import * as Message from "../../src/core/Message.js"
import * as Usage from "../../src/core/Usage.js"
import * as SessionStore from "../../src/store/SessionStore.js"
import { assertValidHistory } from "../utils/events.js"
import { type ChildStorage, removeBundle, runUntilKilled } from "./crash.js"
import * as Script from "./script.js"

/** A layer under test. */
export interface Subject {
  readonly name: string
  /**
   * A store over the subject's storage: each build is a new instance (a restart) when persistent;
   * the memory subject gives the same instance every time.
   */
  readonly layer: () => Layer.Layer<SessionStore.SessionStore, SessionStore.StoreError>
  /** Whether a new instance sees what an earlier one stored. */
  readonly persistent: boolean
  /** How a child process opens the same storage (for the crash test). */
  readonly child?: (() => ChildStorage) | undefined
  /** How many times the crash test kills a child. */
  readonly kills?: number | undefined
}

const tenantName = (label: string) => `${label} ${Crypto.randomUUID()}`

/** Runs `f` with a fresh store instance, closed at the end. */
export const withStore = <A, E>(
  subject: Subject,
  f: (store: SessionStore.Service) => Effect.Effect<A, E, Scope.Scope>
): Effect.Effect<A, E | SessionStore.StoreError> =>
  Effect.scoped(
    Effect.gen(function* () {
      return yield* f(yield* SessionStore.SessionStore)
    }).pipe(Effect.provide(subject.layer()))
  )

/** The reason of a failed store operation. */
export const reasonOf = <A>(effect: Effect.Effect<A, SessionStore.StoreError>) =>
  Effect.map(Effect.exit(effect), (exit) => {
    if (Exit.isSuccess(exit)) return "success"
    const error = exit.cause.reasons.find((reason) => reason._tag === "Fail")
    return error?._tag === "Fail" ? (error.error as SessionStore.StoreError).reason : "defect"
  })

/** Tool results come first in a user message (the API rejects text before them). */
export const assertResultsFirst = (history: Message.History): void => {
  for (const message of history) {
    const kinds = message.content.map((block) => block.type === "tool_result")
    assert.isFalse(
      kinds.some((isResult, i) => isResult && i > 0 && !kinds[i - 1]),
      "tool results come first"
    )
  }
}

// fixtures: every block kind

const image = {
  type: "image",
  source: { type: "base64", media_type: "image/png", data: "iVBORw0KGgoAAAANSUhEUgAAAAE=" }
} as const

const prompt: ReadonlyArray<Message.ContentBlock> = [
  { type: "text", text: "Look at this chart and these notes.", cache_control: { type: "ephemeral" } },
  image,
  {
    type: "document",
    source: { type: "text", media_type: "text/plain", data: "region,revenue\nEU,120" },
    title: "notes"
  }
]

const firstTurn: ReadonlyArray<Message.ContentBlock> = [
  { type: "thinking", thinking: "I should query the table.", signature: "EqQBCkYIARgCKkA=" },
  { type: "redacted_thinking", data: "EmwKAhgBEgy3va3pzix/LafPsn4aDFIT2Xlxh0L5L8rLVyIwxtE3rAFBa8cr3qpP" },
  {
    type: "text",
    text: "Revenue is in the notes.",
    citations: [
      { type: "char_location", cited_text: "EU,120", document_index: 0, start_char_index: 15, end_char_index: 21 }
    ]
  },
  { type: "server_tool_use", id: "srvtoolu_01", name: "web_search", input: { query: "EU revenue" } },
  {
    type: "web_search_tool_result",
    tool_use_id: "srvtoolu_01",
    content: [{ type: "web_search_result", url: "https://example.com", title: "Example", encrypted_content: "Eq==" }]
  },
  // key order and unicode of a tool input must come back byte for byte
  { type: "tool_use", id: "toolu_01", name: "sql", input: { z: 1, a: [1, { y: null, b: "ü ✓" }], sql: "SELECT 1" } },
  { type: "tool_use", id: "toolu_02", name: "javascript", input: {}, caller: { type: "direct" } }
]

const firstResults: ReadonlyArray<Message.ToolResultBlock> = [
  Message.toolResult("toolu_01", '{"rowCount":1}'),
  {
    type: "tool_result",
    tool_use_id: "toolu_02",
    content: [{ type: "text", text: "the chart:" }, image],
    is_error: false
  }
]

const lastTurn: ReadonlyArray<Message.ContentBlock> = [{ type: "text", text: "Total revenue is 120." }]

const tableSnapshot = {
  kind: "table",
  rows: 2,
  columns: [
    { name: "region", type: "VARCHAR" },
    { name: "revenue", type: "INTEGER", description: "EUR" }
  ],
  sample: [
    { region: "EU", revenue: 120 },
    { region: "US", revenue: 80 }
  ]
}

/** Writes a real Parquet file with DuckDB. */
const writeParquet = (path: string) =>
  Effect.promise(async () => {
    const instance = await DuckDBInstance.create(":memory:")
    const connection = await instance.connect()
    await connection.run(
      `COPY (SELECT * FROM (VALUES ('EU', 120), ('US', 80)) t(region, revenue)) TO '${path}' (FORMAT parquet)`
    )
    connection.closeSync()
    instance.closeSync()
  })

const readParquet = (path: string) =>
  Effect.promise(async () => {
    const instance = await DuckDBInstance.create(":memory:")
    const connection = await instance.connect()
    const reader = await connection.runAndReadAll(`SELECT region, revenue FROM read_parquet('${path}') ORDER BY region`)
    const rows = reader.getRowObjectsJson()
    connection.closeSync()
    instance.closeSync()
    return rows
  })

const tempFile = (name: string) =>
  Effect.acquireRelease(
    Effect.promise(async () => Path.join(await FsP.mkdtemp(Path.join(Os.tmpdir(), "dh-store-test-")), name)),
    (path) => Effect.promise(() => FsP.rm(Path.dirname(path), { recursive: true, force: true }))
  )

// the suite

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

    it.live("event logs: append, read from an id, end, resume after a restart, keep the last asks", () =>
      Effect.gen(function* () {
        const tenant = tenantName("events")
        const key = { tenant, id: "s" }
        const events = [
          { type: "message_start", message: { id: "msg_1", z: 1, a: 2 } },
          { type: "content_block_delta", index: 0, delta: { type: "text_delta", text: "Hel" } },
          { type: "content_block_delta", index: 0, delta: { type: "text_delta", text: "lo ✓" } }
        ]
        yield* withStore(subject, (store) =>
          Effect.gen(function* () {
            yield* store.create(tenant, { id: "s" })
            assert.strictEqual(yield* store.appendEvents(key, "ask-1", events.slice(0, 2)), 2)
            assert.strictEqual(yield* store.appendEvents(key, "ask-1", events.slice(2)), 3)
            assert.strictEqual(yield* store.appendEvents(key, "ask-1", []), 3)
            const page = yield* store.readEvents(key, "ask-1", { after: 1 })
            assert.deepStrictEqual(
              page.events.map((event) => event.id),
              [2, 3]
            )
            assert.isUndefined(page.end)
            assert.strictEqual(JSON.stringify(page.events[1]!.event), JSON.stringify(events[2]))
            assert.strictEqual(yield* reasonOf(store.appendEvents(key, "ask-1", [undefined as never])), "InvalidInput")
            yield* store.endAsk(key, "ask-1", { status: "failed", error: { _tag: "Timeout", phase: "idle" } })
            assert.strictEqual(yield* reasonOf(store.appendEvents(key, "ask-1", [{ type: "late" }])), "InvalidInput")
            yield* store.appendEvents(key, "ask-2", [{ type: "message_start" }])
            assert.strictEqual(yield* reasonOf(store.readEvents(key, "ask-404")), "NotFound")
          })
        )
        yield* withStore(subject, (store) =>
          Effect.gen(function* () {
            // a client that saw event 1 reconnects after the restart
            const page = yield* store.readEvents(key, "ask-1", { after: 1 })
            assert.strictEqual(JSON.stringify(page.events.map((e) => e.event)), JSON.stringify(events.slice(1)))
            assert.deepStrictEqual(page.end, { status: "failed", error: { _tag: "Timeout", phase: "idle" } })
            // the ask in flight when the process stopped has no end: the reader knows it was cut off
            assert.strictEqual(yield* store.appendEvents(key, "ask-2", [{ type: "more" }]), 2)
            const asks = yield* store.asks(key)
            assert.deepStrictEqual(
              asks.map((ask) => [ask.askId, ask.lastEventId, ask.end?.status]),
              [
                ["ask-1", 3, "failed"],
                ["ask-2", 2, undefined]
              ]
            )
            // retention: 20 asks per session by default; the oldest go first
            for (let i = 3; i <= 21; i++) {
              yield* store.appendEvents(key, `ask-${i}`, [{ i }])
              yield* store.endAsk(key, `ask-${i}`, { status: "completed" })
            }
            const kept = (yield* store.asks(key)).map((ask) => ask.askId)
            assert.strictEqual(kept.length, 20)
            assert.notInclude(kept, "ask-1")
            assert.strictEqual(yield* reasonOf(store.readEvents(key, "ask-1")), "NotFound")
            // deleting the session deletes its logs
            yield* store.delete(key)
            yield* store.create(tenant, { id: "s" })
            assert.deepStrictEqual(yield* store.asks(key), [])
          })
        )
      })
    )

    it.live("bad tenants and ids are InvalidInput with a message that says what is allowed", () =>
      withStore(subject, (store) =>
        Effect.gen(function* () {
          const tenant = tenantName("input")
          const created = yield* store.create(tenant)
          const key = { tenant, id: created.id }
          const errors = yield* Effect.all(
            [
              store.create(""),
              store.create("x".repeat(129)),
              store.create(tenant, { id: "../etc/passwd" }),
              store.create(tenant, { id: "" }),
              store.load({ tenant, id: "a/b" }),
              store.list(""),
              store.appendEvents(key, "ask/1", []),
              store.readEvents(key, "ask 1"),
              store.importData(key, "/nonexistent/file.parquet", { format: "../x" })
            ].map((effect) => Effect.flip(effect as Effect.Effect<unknown, SessionStore.StoreError>))
          )
          for (const error of errors) assert.strictEqual(error.reason, "InvalidInput", error.message)
          assert.include(errors[2]!.message, "letters, digits")
        })
      )
    )

    it.live("data files: imported by content hash, found by path, missing ones NotFound", () =>
      withStore(subject, (store) =>
        Effect.gen(function* () {
          const tenant = tenantName("data")
          const key = { tenant, id: "s" }
          yield* store.create(tenant, { id: "s" })
          const file = yield* tempFile("a.parquet")
          yield* Effect.promise(() => FsP.writeFile(file, "PAR1 some bytes"))
          const ref = yield* store.importData(key, file)
          assert.strictEqual(ref.sha256, Crypto.createHash("sha256").update("PAR1 some bytes").digest("hex"))
          assert.deepStrictEqual([ref.bytes, ref.format], [15, "parquet"])
          assert.deepStrictEqual(yield* store.importData(key, file), ref)
          const moved = yield* store.importData(key, file, { move: true, format: "csv" })
          assert.strictEqual(moved.sha256, ref.sha256)
          assert.isFalse(
            yield* Effect.promise(() =>
              FsP.access(file).then(
                () => true,
                () => false
              )
            )
          )
          const path = yield* store.dataPath(key, moved)
          assert.isTrue(path.endsWith(`${ref.sha256}.csv`))
          assert.strictEqual(yield* Effect.promise(() => FsP.readFile(path, "utf8")), "PAR1 some bytes")
          assert.strictEqual(yield* reasonOf(store.importData(key, file)), "NotFound")
          assert.strictEqual(yield* reasonOf(store.dataPath(key, { ...ref, sha256: "0".repeat(64) })), "NotFound")
        })
      )
    )

    crashTests(subject)
  })
}

/** The crash test of a persistent subject. */
const crashTests = (subject: Subject): void => {
  if (subject.child === undefined) return
  const child = subject.child
  const kills = subject.kills ?? 20
  afterAll(removeBundle)
  it.live(
    `kill -9 at ${kills} random points of a commit loop: the stored history is always valid and holds every reported commit`,
    () =>
      Effect.gen(function* () {
        const session = { tenant: tenantName("crash"), id: "crashing" }
        let landedAfterWrite = 0
        let last = 0
        for (let i = 0; i < kills; i++) {
          const plan = { afterCommits: Math.floor(Math.random() * 6), delayMs: Math.random() * 8 }
          const killed = yield* Effect.promise(() => runUntilKilled(child(), session, plan))
          assert.strictEqual(killed.ready, last, "each child resumes where the store is")
          const stored = yield* withStore(subject, (store) => store.load(session))
          const where = `kill ${i + 1} (reported ${killed.reported}, stored ${stored.seq})`
          assert.isAtLeast(stored.seq, killed.reported, `${where}: a reported commit was lost`)
          assert.isAtMost(stored.seq, killed.reported + 1, `${where}: more than the commit in flight was stored`)
          if (stored.seq > killed.reported) landedAfterWrite++
          assertValidHistory(stored.history, where)
          assertResultsFirst(stored.history)
          assert.deepStrictEqual(stored.history, Script.expectedHistory(stored.seq), where)
          assert.deepStrictEqual(stored.usage, Script.expectedUsage(stored.seq), where)
          assert.deepStrictEqual(
            stored.handles.map((handle) => handle.name),
            Script.expectedHandles(stored.seq),
            where
          )
          last = stored.seq
        }
        assert.isAbove(last, kills, "the children made progress")
        yield* Effect.log(
          `${subject.name}: ${kills} kills, ${last} commits, ${landedAfterWrite} after a write before its report`
        )
      }),
    { timeout: 180_000 }
  )
}
