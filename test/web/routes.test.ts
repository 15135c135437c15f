import * as Fs from "node:fs"
import * as Path from "node:path"
import { gunzipSync } from "node:zlib"
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { Agent, DataTools, Mock } from "../../src/index.js"
import * as Chart from "../../src/tools/Chart.js"
import { Web } from "../../src/web/index.js"
import { awaitIdle, call, createSession, startServer, TOKEN_A, TOKEN_B } from "../server/helpers.js"

const fixturePath = Path.join(import.meta.dirname, "../fixtures/data/sales.csv")
const tokens = [
  { tenant: "a", token: TOKEN_A },
  { tenant: "b", token: TOKEN_B }
]
const samples = [{ name: "sales", path: fixturePath, description: "twenty sales" }]

/** The server with the page mounted and `chart` among the session tools. */
const start = (turns: ReadonlyArray<Mock.Turn>) =>
  startServer(
    { turns },
    { routes: Web.routes({ tokens, samples }), agent: { dataTools: [...DataTools.all, Chart.chart] } }
  )

const get = (url: string, headers: Record<string, string> = {}) =>
  Effect.promise(async () => {
    const response = await fetch(url, { headers })
    return { status: response.status, headers: response.headers, bytes: new Uint8Array(await response.arrayBuffer()) }
  })

const uploadSales = (url: string, id: string) =>
  Effect.promise(() =>
    fetch(`${url}/v1/sessions/${id}/data/sales`, {
      method: "PUT",
      headers: { authorization: `Bearer ${TOKEN_A}`, "content-type": "text/csv" },
      body: Fs.readFileSync(fixturePath)
    }).then((r) => assert.strictEqual(r.status, 201))
  )

const barsOfSales = {
  data: "sales",
  mark: "bar",
  encoding: { x: { field: "region", type: "nominal" }, y: { field: "units", aggregate: "sum" } }
}

describe("web routes", () => {
  it.live(
    "the page and its files are served without a token, the page with a policy that admits only its own scripts",
    () =>
      Effect.scoped(
        Effect.gen(function* () {
          const { url } = yield* start([Mock.text("hi")])
          const page = yield* get(`${url}/`)
          assert.strictEqual(page.status, 200)
          assert.include(page.headers.get("content-type"), "text/html")
          assert.include(new TextDecoder().decode(page.bytes), '<script type="module" src="/web/app.js"></script>')
          const policy = page.headers.get("content-security-policy") ?? ""
          assert.include(policy, "script-src 'self' 'unsafe-eval'")
          assert.include(policy, "frame-ancestors 'none'")
          for (const file of [
            "/web/app.js",
            "/web/stream.js",
            "/web/vendor/vega.min.js",
            "/web/vendor/vega-lite.min.js"
          ]) {
            const response = yield* get(url + file)
            assert.strictEqual(response.status, 200, file)
            assert.include(response.headers.get("content-type"), "text/javascript", file)
          }
          // gzipped when the browser takes it, the same bytes once unzipped; a 304 when it has them
          const plain = yield* get(`${url}/web/vendor/vega.min.js`)
          const zipped = yield* get(`${url}/web/vendor/vega.min.js`, { "accept-encoding": "gzip" })
          assert.strictEqual(zipped.headers.get("content-encoding"), "gzip")
          assert.isBelow(Number(zipped.headers.get("content-length")), plain.bytes.length / 2)
          const etag = plain.headers.get("etag")!
          assert.strictEqual((yield* get(`${url}/web/vendor/vega.min.js`, { "if-none-match": etag })).status, 304)
          // (fetch unzips on its own; check the stored gzip against the file through node's zlib)
          const raw = yield* Effect.promise(() =>
            import("node:http").then(
              (http) =>
                new Promise<Buffer>((resolve) =>
                  http.get(`${url}/web/app.js`, { headers: { "accept-encoding": "gzip" } }, (res) => {
                    const chunks: Array<Buffer> = []
                    res.on("data", (c) => chunks.push(c)).on("end", () => resolve(Buffer.concat(chunks)))
                  })
                )
            )
          )
          assert.deepStrictEqual(
            new Uint8Array(gunzipSync(raw)),
            new Uint8Array(Fs.readFileSync(Path.join(import.meta.dirname, "../../src/web/static/app.js")))
          )
          assert.strictEqual((yield* get(`${url}/web/tsconfig.json`)).status, 404, "only the page's files")
        })
      )
  )

  it.live("sign-in sets the token as an HttpOnly, SameSite=Strict cookie that the API and the page's routes take", () =>
    Effect.scoped(
      Effect.gen(function* () {
        const { url } = yield* start([Mock.text("hi")])
        const wrong = yield* call(url, "POST", "/web/login", { token: null, body: { token: "nope" } })
        assert.strictEqual(wrong.status, 401)
        assert.isNull(wrong.headers.get("set-cookie"), "nothing is set for a wrong token")
        assert.notInclude(JSON.stringify(wrong.body), "nope", "the token is not echoed")
        const bad = yield* call(url, "POST", "/web/login", { token: null, body: { secret: TOKEN_A } })
        assert.strictEqual(bad.status, 400)
        assert.strictEqual(bad.body.field, "payload.token")
        const signedIn = yield* call(url, "POST", "/web/login", { token: null, body: { token: TOKEN_A } })
        assert.strictEqual(signedIn.status, 204)
        const cookie = signedIn.headers.get("set-cookie") ?? ""
        assert.match(cookie, new RegExp(`^dh_token=${TOKEN_A};`))
        assert.include(cookie, "HttpOnly")
        assert.include(cookie, "SameSite=Strict")
        assert.include(cookie, "Path=/")
        const jar = { cookie: `dh_token=${TOKEN_A}` }
        const me = yield* call(url, "GET", "/web/api/me", { token: null, headers: jar })
        assert.deepStrictEqual(me.body, {
          tenant: "a",
          provider: "mock",
          model: "mock-model",
          samples: [{ name: "sales", file: "sales.csv", description: "twenty sales" }]
        })
        assert.strictEqual(
          (yield* call(url, "POST", "/v1/sessions", { token: null, headers: jar, body: {} })).status,
          201
        )
        assert.strictEqual((yield* call(url, "GET", "/web/api/me", { token: null })).status, 401)
        const out = yield* call(url, "POST", "/web/logout", { token: null, headers: jar })
        assert.strictEqual(out.status, 204)
        assert.match(out.headers.get("set-cookie") ?? "", /^dh_token=; .*(Max-Age=0|Expires=Thu, 01 Jan 1970)/)
      })
    )
  )

  it.live("a sample is served as its file to a signed-in tenant", () =>
    Effect.scoped(
      Effect.gen(function* () {
        const { url } = yield* start([Mock.text("hi")])
        const file = yield* get(`${url}/web/api/samples/sales`, { authorization: `Bearer ${TOKEN_B}` })
        assert.strictEqual(file.status, 200)
        assert.include(file.headers.get("content-type"), "text/csv")
        assert.deepStrictEqual(file.bytes, new Uint8Array(Fs.readFileSync(fixturePath)))
        assert.strictEqual((yield* get(`${url}/web/api/samples/sales`)).status, 401)
        const unknown = yield* call(url, "GET", "/web/api/samples/nope")
        assert.strictEqual(unknown.status, 404)
        assert.strictEqual(unknown.body._tag, "NotFound")
      })
    )
  )

  it.live("a chart the chart tool kept is served, with its data, to its tenant only; no other handle is a chart", () =>
    Effect.scoped(
      Effect.gen(function* () {
        const { url } = yield* start([Mock.toolCall("chart", barsOfSales), Mock.text("A chart.")])
        const id = yield* createSession(url)
        yield* uploadSales(url, id)
        assert.strictEqual(
          (yield* call(url, "POST", `/v1/sessions/${id}/asks`, { body: { prompt: "chart" } })).status,
          200
        )
        yield* awaitIdle(url, id)
        const chart = yield* call(url, "GET", `/web/api/sessions/${id}/charts/chart_1`)
        assert.strictEqual(chart.status, 200)
        assert.strictEqual(chart.body.mark, "bar")
        assert.strictEqual(chart.body.data.values.length, 20)
        assert.deepStrictEqual(chart.body.data.values[3], { region: "west", units: 9 })
        assert.deepStrictEqual(chart.body.usermeta.dataHarness, { handle: "sales", rows: 20, shown: 20, cut: false })
        const other = yield* call(url, "GET", `/web/api/sessions/${id}/charts/chart_1`, { token: TOKEN_B })
        assert.strictEqual(other.status, 404)
        assert.strictEqual(other.body._tag, "SessionNotFound")
        const notChart = yield* call(url, "GET", `/web/api/sessions/${id}/charts/sales`)
        assert.strictEqual(notChart.status, 404)
        assert.strictEqual(notChart.body._tag, "ChartNotFound")
        assert.strictEqual(
          (yield* call(url, "GET", `/web/api/sessions/${id}/charts/chart_1`, { token: null })).status,
          401
        )
        // what the model saw is the confirmation, not the data
        const history = yield* call(url, "GET", `/v1/sessions/${id}/history`)
        const result = history.body.messages[2].content[0]
        assert.strictEqual(result.type, "tool_result")
        assert.strictEqual(JSON.parse(result.content).chart, "chart_1")
        assert.notInclude(result.content, "west")
      })
    )
  )
})

describe("scripted analyst", () => {
  it.effect(
    "totals the first numeric column by the first text column with SQL, charts it and answers from the rows",
    () =>
      Effect.gen(function* () {
        const agent = yield* Agent.make({ dataTools: [...DataTools.all, Chart.chart] })
        const session = yield* agent.session()
        yield* session.putFile("sales", fixturePath)
        const answer = yield* session.ask("Which region sells the most?")
        assert.include(answer, "By region, west has the most total units: 39, ahead of south with 34.")
        const history = yield* session.history
        const calls = history.flatMap((m) =>
          m.content.filter((b) => b.type === "tool_use").map((b) => (b as { name: string }).name)
        )
        assert.deepStrictEqual(calls, ["list_variables", "sql", "chart"])
        const chart = Chart.fromHandle((yield* session.data.get("chart_1"))!)
        assert.deepStrictEqual(chart?.data.values, [
          { region: "west", total_units: 39 },
          { region: "south", total_units: 34 },
          { region: "east", total_units: 30 },
          { region: "north", total_units: 25 }
        ])
        const empty = yield* agent.session()
        assert.include(yield* empty.ask("Anything?"), "There is no table in this session yet.")
      }).pipe(Effect.provide(Mock.layer({ turns: [Web.scriptedAnalyst] })))
  )
})
