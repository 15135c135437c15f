/**
 * The store contract, continued: event logs, bad input and data files.
 */
import * as Crypto from "node:crypto"
import * as FsP from "node:fs/promises"
import { assert, it } from "@effect/vitest"
import { Effect } from "effect"
import type * as SessionStore from "../../src/store/SessionStore.js"
import { reasonOf, type Subject, tempFile, tenantName, withStore } from "./helpers.js"

/** Registers the event-log, input and data-file tests of the contract (inside its describe). */
export const eventAndDataTests = (subject: Subject): void => {
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
}
