/**
 * The server on a session store: its sessions, their uploads and their event logs outlive a
 * restart (the server's layers released and built again over the same store directory).
 */
import * as Fs from "node:fs"
import * as FsP from "node:fs/promises"
import * as Os from "node:os"
import * as Path from "node:path"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Layer } from "effect"
import { Mock, SessionStore } from "../../src/index.js"
import { EventLog } from "../../src/server/index.js"
import { assertValidHistory } from "../utils/events.js"
import { awaitIdle, call, createSession, openSse, startServer, TOKEN_A } from "./helpers.js"

const fixture = (name: string) => Fs.readFileSync(Path.join(import.meta.dirname, "../fixtures/data", name))

const upload = (url: string, path: string, body: Uint8Array, contentType: string) =>
  Effect.promise(async () => {
    const response = await fetch(url + path, {
      method: "PUT",
      headers: { authorization: `Bearer ${TOKEN_A}`, "content-type": contentType },
      body
    })
    return response.status
  })

const tempDirectory = Effect.acquireRelease(
  Effect.promise(() => FsP.mkdtemp(Path.join(Os.tmpdir(), "dh-server-durable-"))),
  (directory) => Effect.promise(() => FsP.rm(directory, { recursive: true, force: true }))
)

/** Runs `f` against a server over the store in `directory`, then stops it (a restart is two of these). */
const withServer = <A>(directory: string, mock: Mock.Options, f: (url: string) => Effect.Effect<A>): Effect.Effect<A> =>
  Effect.scoped(
    Effect.flatMap(startServer(mock, { store: SessionStore.layerFileSystem({ directory }) }), ({ url }) => f(url))
  )

/** The total of `units * price` in the sales fixture, computed here from the file. */
const expectedTotal = () => {
  const [, ...rows] = fixture("sales.csv").toString("utf8").trim().split("\n")
  return rows.reduce((sum, row) => {
    const [, , , units, price] = row.split(",")
    return sum + Number(units) * Number(price)
  }, 0)
}

const totalQuery = { query: "SELECT sum(units * price) AS total FROM sales" }

/** A scripted analyst: it runs the total query, then quotes what the tool gave back. */
const analyst: Mock.Options = {
  turns: [
    Mock.toolCall("sql", totalQuery),
    Mock.reply(({ lastToolResults }) => Mock.text(`The tool said: ${String(lastToolResults[0]?.content ?? "")}`))
  ],
  chunkSize: 5
}

describe("the server on a session store", () => {
  it.live(
    "after a restart: the session is listed, its history is there, Last-Event-ID gets the missed events, and SQL reads the data uploaded before",
    () =>
      Effect.scoped(
        Effect.gen(function* () {
          const directory = yield* tempDirectory
          const first = yield* withServer(directory, analyst, (url) =>
            Effect.gen(function* () {
              const id = yield* createSession(url, TOKEN_A, "You are an analyst.")
              assert.strictEqual(
                yield* upload(url, `/v1/sessions/${id}/data/sales`, fixture("sales.csv"), "text/csv"),
                201
              )
              // the client reads up to the tool result, then its connection drops
              const stream = yield* openSse(url, "POST", `/v1/sessions/${id}/asks`, {
                body: { prompt: "What is the total?" }
              })
              const seen = yield* stream.until((event) => event.event === "tool_result")
              yield* stream.close
              yield* awaitIdle(url, id)
              const whole = yield* openSse(url, "GET", `/v1/sessions/${id}/events?after=0`)
              const all = yield* whole.toEnd
              const history = yield* call(url, "GET", `/v1/sessions/${id}/history`)
              return { id, last: seen.at(-1)!.id!, all, history: history.body }
            })
          )
          assert.strictEqual(first.all.at(-1)!.data.status, "completed")

          yield* withServer(directory, analyst, (url) =>
            Effect.gen(function* () {
              const listed = yield* call(url, "GET", "/v1/sessions")
              assert.deepStrictEqual(
                listed.body.sessions.map((s: { id: string }) => s.id),
                [first.id]
              )
              const info = yield* call(url, "GET", `/v1/sessions/${first.id}`)
              assert.strictEqual(info.body.system, "You are an analyst.")
              assert.strictEqual(info.body.last_event_id, Number(first.all.at(-1)!.id))

              // the client comes back after the restart with the id it last saw
              const resumed = yield* openSse(url, "GET", `/v1/sessions/${first.id}/events`, {
                headers: { "last-event-id": first.last }
              })
              assert.strictEqual(resumed.status, 200)
              const missed = yield* resumed.toEnd
              const after = first.all.findIndex((event) => event.id === first.last)
              assert.deepStrictEqual(missed, first.all.slice(after + 1))
              assert.strictEqual(missed.at(-1)!.data.type, "ask_end")

              // the history the server shows is the one it had, valid to send
              const history = yield* call(url, "GET", `/v1/sessions/${first.id}/history`)
              assert.deepStrictEqual(history.body, first.history)
              assertValidHistory(history.body.messages)
              assert.strictEqual(history.body.messages.length, 4)

              // the next ask runs real SQL over the file uploaded before the restart
              const next = yield* openSse(url, "POST", `/v1/sessions/${first.id}/asks`, {
                body: { prompt: "And the total again?" }
              })
              const events = yield* next.toEnd
              const result = events.find((event) => event.event === "tool_result")!
              assert.isFalse(result.data.is_error, JSON.stringify(result.data))
              assert.include(result.data.content, String(expectedTotal()))
              assert.strictEqual(Number(events[0]!.id), Number(first.all.at(-1)!.id) + 1)
            })
          )
        })
      ),
    60_000
  )

  it.live(
    "an ask its server stopped in the middle ends, for a reader after the restart, with ask_end interrupted",
    () =>
      Effect.scoped(
        Effect.gen(function* () {
          const directory = yield* tempDirectory
          const id = yield* withServer(directory, { turns: [Mock.text("fine")] }, (url) =>
            Effect.gen(function* () {
              const id = yield* createSession(url)
              const done = yield* openSse(url, "POST", `/v1/sessions/${id}/asks`, { body: { prompt: "hi" } })
              yield* done.toEnd
              return id
            })
          )
          // as a process killed after an ask started: its ask_start is in the log, its end is not
          yield* Effect.scoped(
            Effect.gen(function* () {
              const log = yield* EventLog.EventLog
              yield* log.append(EventLog.sessionStream("a", id), [
                { type: "ask_start", ask_id: "ask_killed", prompt: "q" }
              ])
            }).pipe(
              Effect.provide(EventLog.layerStore().pipe(Layer.provide(SessionStore.layerFileSystem({ directory }))))
            )
          )
          yield* withServer(directory, { turns: [Mock.text("again")] }, (url) =>
            Effect.gen(function* () {
              const info = yield* call(url, "GET", `/v1/sessions/${id}`)
              assert.strictEqual(info.body.running_ask, null)
              const reader = yield* openSse(url, "GET", `/v1/sessions/${id}/events?after=0&follow=true`)
              const events = yield* reader.until(
                (event) => event.event === "ask_end" && event.data.ask_id === "ask_killed"
              )
              yield* reader.close
              const ends = events.filter((event) => event.event === "ask_end")
              assert.strictEqual(ends.length, 2)
              assert.strictEqual(ends[1]!.data.ask_id, "ask_killed")
              assert.strictEqual(ends[1]!.data.status, "interrupted")
              assert.strictEqual(ends[1]!.data.error._tag, "ServerStopped")
              // and the session takes the next ask
              const next = yield* (yield* openSse(url, "POST", `/v1/sessions/${id}/asks`, { body: { prompt: "more" } }))
                .toEnd
              assert.strictEqual(next.at(-1)!.data.status, "completed")
            })
          )
        })
      )
  )

  it.live("DELETE removes the stored session: after a restart it is not found", () =>
    Effect.scoped(
      Effect.gen(function* () {
        const directory = yield* tempDirectory
        yield* withServer(directory, { turns: [Mock.text("ok")] }, (url) =>
          Effect.gen(function* () {
            const kept = yield* createSession(url)
            const gone = yield* createSession(url)
            assert.strictEqual((yield* call(url, "DELETE", `/v1/sessions/${gone}`)).status, 204)
            return { kept, gone }
          })
        ).pipe(
          Effect.flatMap(({ kept, gone }) =>
            withServer(directory, { turns: [Mock.text("ok")] }, (url) =>
              Effect.gen(function* () {
                assert.strictEqual((yield* call(url, "GET", `/v1/sessions/${gone}`)).status, 404)
                assert.strictEqual((yield* call(url, "GET", `/v1/sessions/${kept}`)).status, 200)
                // another tenant does not see it after a restart either
                assert.strictEqual(
                  (yield* call(url, "GET", `/v1/sessions/${kept}`, { token: "token-tenant-b" })).status,
                  404
                )
              })
            )
          )
        )
      })
    )
  )
})
