import * as Fs from "node:fs"
import * as Path from "node:path"
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { Mock } from "../../src/index.js"
import { call, createSession, openSse, startServer, TOKEN_A } from "./helpers.js"

const fixture = (name: string) => Fs.readFileSync(Path.join(import.meta.dirname, "../fixtures/data", name))

const put = (url: string, path: string, body: Uint8Array | string, contentType: string) =>
  Effect.promise(async () => {
    const response = await fetch(url + path, {
      method: "PUT",
      headers: { authorization: `Bearer ${TOKEN_A}`, "content-type": contentType },
      body
    })
    const text = await response.text()
    return { status: response.status, body: text.length > 0 ? JSON.parse(text) : undefined }
  })

/** A chunked upload (no content-length) of `chunks` pieces of `size` bytes each. */
const putChunked = (url: string, path: string, chunks: number, size: number) =>
  Effect.promise(async () => {
    const body = new ReadableStream<Uint8Array>({
      start(controller) {
        for (let i = 0; i < chunks; i++) controller.enqueue(new Uint8Array(size).fill(97))
        controller.close()
      }
    })
    const response = await fetch(url + path, {
      method: "PUT",
      headers: { authorization: `Bearer ${TOKEN_A}`, "content-type": "text/csv" },
      body,
      duplex: "half"
    } as RequestInit)
    return { status: response.status, body: JSON.parse(await response.text()) }
  })

const filesIn = (directory: string) => Fs.readdirSync(directory)

describe("uploads", () => {
  it.live("CSV, TSV, JSON, JSONL and Parquet bodies become handles whose snapshots are listed", () =>
    Effect.scoped(
      Effect.gen(function* () {
        const { url } = yield* startServer({ turns: [Mock.text("ok")] })
        const id = yield* createSession(url)
        const uploads = [
          ["sales.csv", "text/csv", "csv"],
          ["sales.tsv", "text/tab-separated-values", "tsv"],
          ["sales.json", "application/json", "json"],
          ["sales.jsonl", "application/x-ndjson", "jsonl"],
          ["sales.parquet", "application/vnd.apache.parquet", "parquet"]
        ] as const
        for (const [file, contentType, name] of uploads) {
          const body = fixture(file)
          const response = yield* put(url, `/v1/sessions/${id}/data/${name}`, body, contentType)
          assert.strictEqual(response.status, 201, `${file}: ${JSON.stringify(response.body)}`)
          assert.strictEqual(response.body.name, name)
          assert.strictEqual(response.body.bytes, body.length)
          assert.strictEqual(response.body.handle.snapshot.kind, "table")
          assert.isAbove(response.body.handle.snapshot.rows, 0)
        }
        const listed = yield* call(url, "GET", `/v1/sessions/${id}/data`)
        assert.deepStrictEqual(
          listed.body.handles.map((h: { name: string }) => h.name),
          uploads.map(([, , name]) => name)
        )
        const csv = listed.body.handles[0]
        assert.strictEqual(csv.snapshot.rows, 20)
        assert.includeMembers(
          csv.snapshot.columns.map((c: { name: string }) => c.name),
          ["date", "region", "units"]
        )
        // the server's paths never reach the client
        assert.notInclude(JSON.stringify(listed.body), "/tmp")
      })
    )
  )

  it.live("the model queries an uploaded file with sql in the next ask", () =>
    Effect.scoped(
      Effect.gen(function* () {
        const { url } = yield* startServer({
          turns: [
            Mock.toolCall("sql", { query: "select count(*) as n, sum(units) as units from sales" }),
            Mock.reply(({ lastToolResults }) => Mock.text(String(lastToolResults[0]?.content)))
          ]
        })
        const id = yield* createSession(url)
        assert.strictEqual(
          (yield* put(url, `/v1/sessions/${id}/data/sales`, fixture("sales.csv"), "text/csv")).status,
          201
        )
        const sse = yield* openSse(url, "POST", `/v1/sessions/${id}/asks`, { body: { prompt: "How many rows?" } })
        const events = yield* sse.toEnd
        const result = events.find((e) => e.event === "tool_result")!.data
        assert.isFalse(result.is_error, result.content)
        assert.include(result.content, "[[20,")
        assert.strictEqual(events.at(-1)!.data.status, "completed")
      })
    )
  )

  it.live("the format comes from ?format when the content type does not say it", () =>
    Effect.scoped(
      Effect.gen(function* () {
        const { url } = yield* startServer({ turns: [Mock.text("ok")] })
        const id = yield* createSession(url)
        const bytes = fixture("sales.csv")
        const unsaid = yield* put(url, `/v1/sessions/${id}/data/sales`, bytes, "application/octet-stream")
        assert.strictEqual(unsaid.status, 400)
        assert.strictEqual(unsaid.body.field, "query.format")
        const said = yield* put(url, `/v1/sessions/${id}/data/sales?format=csv`, bytes, "application/octet-stream")
        assert.strictEqual(said.status, 201)
        assert.strictEqual(said.body.handle.snapshot.rows, 20)
        const other = yield* put(url, `/v1/sessions/${id}/data/sales`, bytes, "text/plain")
        assert.strictEqual(other.status, 415)
        assert.strictEqual(other.body._tag, "UnsupportedMediaType")
        assert.strictEqual(other.body.field, "content-type")
      })
    )
  )

  it.live(
    "an empty body or a file DuckDB cannot read is a 422 BadFile; its file is removed and the session is unchanged",
    () =>
      Effect.scoped(
        Effect.gen(function* () {
          const { url, sessions } = yield* startServer({ turns: [Mock.text("ok")] })
          const id = yield* createSession(url)
          const directory = (yield* sessions.get("a", id)).directory
          const empty = yield* put(url, `/v1/sessions/${id}/data/t`, "", "text/csv")
          assert.strictEqual(empty.status, 422)
          assert.strictEqual(empty.body._tag, "BadFile")
          assert.strictEqual(empty.body.reason, "Empty")
          const broken = yield* put(url, `/v1/sessions/${id}/data/t`, fixture("broken.json"), "application/json")
          assert.strictEqual(broken.status, 422, JSON.stringify(broken.body))
          assert.strictEqual(broken.body.field, "body")
          assert.strictEqual(broken.body.reason, "ParseError")
          assert.notInclude(broken.body.message, directory)
          const garbage = yield* put(url, `/v1/sessions/${id}/data/t`, "not parquet at all", "application/x-parquet")
          assert.strictEqual(garbage.status, 422)
          assert.deepStrictEqual(filesIn(directory), [])
          assert.deepStrictEqual((yield* call(url, "GET", `/v1/sessions/${id}/data`)).body.handles, [])
        })
      )
  )

  it.live("a body over the upload limit is a 413, by its content-length or while it streams; no file is left", () =>
    Effect.scoped(
      Effect.gen(function* () {
        const { url, sessions } = yield* startServer({ turns: [Mock.text("ok")] }, { limits: { maxUploadBytes: 1000 } })
        const id = yield* createSession(url)
        const directory = (yield* sessions.get("a", id)).directory
        const declared = yield* put(url, `/v1/sessions/${id}/data/t`, "a".repeat(1001), "text/csv")
        assert.strictEqual(declared.status, 413)
        assert.strictEqual(declared.body._tag, "PayloadTooLarge")
        assert.strictEqual(declared.body.limit, 1000)
        const streamed = yield* putChunked(url, `/v1/sessions/${id}/data/t`, 20, 100)
        assert.strictEqual(streamed.status, 413)
        assert.strictEqual(streamed.body._tag, "PayloadTooLarge")
        assert.deepStrictEqual(filesIn(directory), [])
        const fits = yield* put(url, `/v1/sessions/${id}/data/t`, "a,b\n1,2\n", "text/csv")
        assert.strictEqual(fits.status, 201)
      })
    )
  )

  it.live("a taken name gets a new one unless overwrite=true; a description is shown with the handle", () =>
    Effect.scoped(
      Effect.gen(function* () {
        const { url } = yield* startServer({ turns: [Mock.text("ok")] })
        const id = yield* createSession(url)
        yield* put(url, `/v1/sessions/${id}/data/t`, "a\n1\n", "text/csv")
        const again = yield* put(url, `/v1/sessions/${id}/data/t`, "a\n1\n2\n", "text/csv")
        assert.strictEqual(again.body.name, "t_2")
        const replaced = yield* put(
          url,
          `/v1/sessions/${id}/data/t?overwrite=true&description=two%20rows`,
          "a\n1\n2\n",
          "text/csv"
        )
        assert.strictEqual(replaced.body.name, "t")
        assert.strictEqual(replaced.body.handle.description, "two rows")
        const handles = (yield* call(url, "GET", `/v1/sessions/${id}/data`)).body.handles
        assert.deepStrictEqual(
          handles.map((h: { name: string; snapshot: { rows: number } }) => [h.name, h.snapshot.rows]),
          [
            ["t", 2],
            ["t_2", 2]
          ]
        )
      })
    )
  )
})
