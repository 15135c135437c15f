/**
 * The analyst page in a real browser: Debian's Chromium driven by playwright-core, against the
 * server on a random port (through a TCP proxy that can drop the network), with the scripted
 * analyst as the model. Run with `npm run test:browser`; `SCREENSHOT=docs/web-page.png` also
 * writes the screenshot the README shows.
 */
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import { assert, beforeAll, describe, it } from "@effect/vitest"
import { Effect, Layer } from "effect"
import type { BrowserContext, Page } from "playwright-core"
import { DataTools, type Message, Mock } from "../../src/index.js"
import { Server } from "../../src/server/index.js"
import * as Chart from "../../src/tools/Chart.js"
import { Web } from "../../src/web/index.js"
import * as Browser from "./browser.js"
import { type Network, network } from "./proxy.js"

const TOKEN = "token-for-the-browser-test"
const fixture = Path.join(import.meta.dirname, "../fixtures/data/sales.csv")

/** The prompt of the ask being answered. */
const promptOf = (messages: ReadonlyArray<Message.Message>) => {
  for (let i = messages.length - 1; i >= 0; i--) {
    const text = messages[i]!.content.find((b) => b.type === "text") as { text?: string } | undefined
    if (messages[i]!.role === "user" && text?.text !== undefined) return text.text
  }
  return ""
}

/** Long enough to stream over many events, so the page shows it while it is being written. */
const JS_CODE = [
  "// the big sales, region and units only",
  ...Array.from({ length: 6 }, (_, i) => `// (a comment line ${i + 1} that makes the code stream for a while)`),
  "sales.filter((row) => row.units > 10).map((row) => ({ region: row.region, units: row.units }))"
].join("\n")

/**
 * The scripted analyst, plus prompts for the tests: `[stall]` streams a little and then never
 * ends (until interrupted); `[slow]` thinks for a second before it charts; `[js]` runs JavaScript.
 */
const analyst = Mock.reply((context) => {
  const prompt = promptOf(context.messages)
  if (prompt.includes("[stall]")) return Mock.stall("Working on a long answer")
  if (prompt.includes("[js]")) {
    return context.lastToolResults.length === 0
      ? Mock.toolCalls([{ name: "javascript", input: { code: JS_CODE } }], "In JavaScript: ")
      : Mock.text("Those are the sales of more than 10 units.")
  }
  const script = Web.scriptedAnalyst(context)
  const charting = script.toolCalls?.[0]?.name === "chart"
  return prompt.includes("[slow]") && charting ? Effect.as(Effect.sleep("1 second"), script) : script
})

interface Harness {
  readonly server: string
  readonly net: Network
  readonly browser: BrowserContext
  readonly page: Page
  /** Every request the page made: method, URL, `last-event-id`. */
  readonly requests: Array<{ readonly method: string; readonly url: string; readonly lastEventId: string | undefined }>
  /** Uncaught errors on the page. */
  readonly errors: Array<string>
}

const start = Effect.gen(function* () {
  const layer = Server.layer({
    port: 0,
    tokens: [{ tenant: "analyst", token: TOKEN }],
    agent: { dataTools: [...DataTools.all, Chart.chart] },
    routes: Web.routes({
      tokens: [{ tenant: "analyst", token: TOKEN }],
      samples: [{ name: "sales", path: fixture }]
    })
  }).pipe(Layer.provide(Mock.layer({ turns: [analyst], chunkSize: 6, eventDelay: "8 millis", model: "scripted" })))
  const server = yield* Browser.serve(layer)
  const net = yield* network(server)
  const browser = yield* Browser.launch
  const page = browser.pages()[0] ?? (yield* Effect.promise(() => browser.newPage()))
  const harness: Harness = { server, net, browser, page, requests: [], errors: [] }
  page.on("request", (request) =>
    harness.requests.push({
      method: request.method(),
      url: request.url(),
      lastEventId: request.headers()["last-event-id"]
    })
  )
  page.on("pageerror", (error) => harness.errors.push(error.message))
  return harness
})

let h: Harness

/** The session the page keeps, read from its localStorage. */
const sessionId = () => h.page.evaluate(() => localStorage.getItem("data-harness.session") ?? "")

/** The last answer on the page. */
const lastAnswer = () => h.page.locator("article.answer").last()

/** Waits until the last answer on the page has ended with `status`. */
const ended = (status: string) => Browser.ended(h.page, status)

const ask = (prompt: string) => Browser.ask(h.page, prompt)

describe("the analyst page in Chromium", () => {
  beforeAll(
    () =>
      Effect.map(start, (harness) => {
        h = harness
      }),
    60_000
  )

  it.live("signs in, loads a CSV, and streams an answer with tool calls, a table and a drawn chart", () =>
    Effect.promise(async () => {
      const { page } = h
      await page.goto(`${h.net.url}/`)
      await page.locator("#login-form").waitFor()
      await page.fill("#login-token", "not-the-token")
      await page.click("#login-submit")
      await page.locator("#login-error", { hasText: "Unauthorized" }).waitFor()
      await page.fill("#login-token", TOKEN)
      await page.click("#login-submit")
      await page.locator("body[data-ready=true]").waitFor()
      assert.strictEqual(await page.textContent("#model"), "scripted (mock)")

      await page.setInputFiles("#file-input", fixture)
      const sales = page.locator("#handles li[data-handle=sales]")
      await sales.waitFor()
      assert.include(await sales.textContent(), "table · 20 rows × 5 columns")

      await ask("Which region sells the most?")
      // text streams in while the ask runs, and the interrupt button is live meanwhile
      await page.locator("article.answer[data-status=running] p.text", { hasText: "Let me look" }).first().waitFor()
      assert.isTrue(await page.isEnabled("#interrupt"))
      const answer = lastAnswer()
      await ended("completed")
      assert.isFalse(await page.isEnabled("#interrupt"))

      const sql = answer.locator("section.tool[data-name=sql]")
      assert.include(await sql.locator(".input").textContent(), 'SELECT "region", sum("units") AS total_units')
      const rows = await sql.locator("tbody tr").allTextContents()
      assert.deepStrictEqual(rows, ["west39", "south34", "east30", "north25"])

      const chart = answer.locator("figure.chart[data-state=drawn]")
      await chart.waitFor()
      assert.strictEqual(await chart.locator("svg .mark-rect path").count(), 4, "one bar per region")
      assert.include(
        await answer.locator("p.text").last().textContent(),
        "By region, west has the most total units: 39, ahead of south with 34."
      )
      await page.locator("#handles li[data-handle=chart_1]").waitFor()
      assert.strictEqual(await page.locator("#handles li[data-handle=sales_by_region]").count(), 1)

      // nothing came from anywhere but the server, and nothing failed on the page
      assert.deepStrictEqual(
        h.requests.filter((r) => !r.url.startsWith(h.net.url) && !r.url.startsWith("data:")),
        []
      )
      assert.deepStrictEqual(h.errors, [])

      const file = process.env.SCREENSHOT ?? Path.join(Os.tmpdir(), `dh-page-${process.pid}.png`)
      await page.click("#handles li[data-handle=sales] summary")
      await page.evaluate(`{
        const conversation = document.getElementById("conversation")
        conversation.scrollTop = conversation.scrollHeight
      }`)
      await page.screenshot({ path: file })
      assert.deepStrictEqual([...Fs.readFileSync(file).subarray(1, 4)], [0x50, 0x4e, 0x47], "a PNG")
    })
  )

  it.live("the interrupt button stops a running ask and the page says so", () =>
    Effect.promise(async () => {
      const { page } = h
      await ask("[stall] Think about it for a long time")
      await page
        .locator("article.answer[data-status=running] p.text", { hasText: "Working on a long answer" })
        .waitFor()
      await page.click("#interrupt")
      await ended("interrupted")
      assert.strictEqual(await lastAnswer().locator("footer.ended").textContent(), "Interrupted.")
      await page.locator("#ask:enabled").waitFor()
      assert.isFalse(await page.isEnabled("#interrupt"))
    })
  )

  it.live("a reload shows the history: prompts, answers, tables and charts", () =>
    Effect.promise(async () => {
      const { page } = h
      await page.reload()
      await page.locator("body[data-ready=true]").waitFor()
      assert.deepStrictEqual(await page.locator("article.prompt").allTextContents(), [
        "Which region sells the most?",
        "[stall] Think about it for a long time"
      ])
      const first = page.locator("article.answer").first()
      assert.deepStrictEqual(await first.locator("section.tool[data-name=sql] tbody tr").allTextContents(), [
        "west39",
        "south34",
        "east30",
        "north25"
      ])
      await first.locator("figure.chart[data-state=drawn]").waitFor()
      assert.strictEqual(await first.locator("svg .mark-rect path").count(), 4)
      assert.include(await first.textContent(), "west has the most total units: 39")
      assert.strictEqual(await page.locator("#handles li[data-handle=sales]").count(), 1)
    })
  )

  it.live("a JavaScript call shows its code as it is written, then its result as a table", () =>
    Effect.promise(async () => {
      const { page } = h
      await ask("[js] Which sales were big?")
      const card = lastAnswer().locator("section.tool[data-name=javascript]")
      const writing = card.locator(".input")
      await page.locator("section.tool[data-name=javascript][data-state=writing] .input:not(:empty)").waitFor()
      const partial = (await writing.textContent()) ?? ""
      await ended("completed")
      assert.strictEqual(await writing.textContent(), JS_CODE, "the code, not its JSON")
      assert.isTrue(partial.length > 0 && partial.length < JS_CODE.length && JS_CODE.startsWith(partial), partial)
      assert.deepStrictEqual(await card.locator("thead th").allTextContents(), ["region", "units"])
      assert.deepStrictEqual(await card.locator("tbody tr").allTextContents(), ["west11", "south12", "west13"])
    })
  )

  it.live("a network drop mid-ask loses nothing: the page resumes with Last-Event-ID and the answer completes", () =>
    Effect.promise(async () => {
      const { page } = h
      const id = await sessionId()
      const before = h.requests.length
      const info = async () =>
        (await fetch(`${h.server}/v1/sessions/${id}`, { headers: { authorization: `Bearer ${TOKEN}` } }).then((r) =>
          r.json()
        )) as { running_ask: string | null; last_event_id: number }
      const logBefore = (await info()).last_event_id
      await ask("[slow] Which region again?")
      const answer = lastAnswer()
      await answer.locator("section.tool[data-name=sql][data-state=done]").waitFor()
      h.net.down()
      assert.isAbove(h.net.cut(), 0, "the event stream was open and is cut")
      await page.locator("#status[data-kind=warn]", { hasText: "Connection lost" }).waitFor()
      // the ask runs on without the page: wait (on the server, not through the proxy) until it ended
      while ((await info()).running_ask !== null) await new Promise((resolve) => setTimeout(resolve, 50))
      h.net.up()
      await ended("completed")
      // the page asked for what it missed after the last id it had seen
      const resumed = h.requests.slice(before).filter((r) => r.url.endsWith(`/v1/sessions/${id}/events`))
      assert.isAbove(resumed.length, 0)
      assert.match(resumed[resumed.length - 1]!.lastEventId ?? "", /^\d+$/)
      // everything arrived, each event once: as many as the log holds for the ask, and the same
      // answer as without a drop
      const logged = (await info()).last_event_id - logBefore
      assert.strictEqual(await answer.getAttribute("data-events"), String(logged))
      assert.strictEqual(await answer.locator("section.tool").count(), 3)
      await answer.locator("figure.chart[data-state=drawn]").waitFor()
      assert.strictEqual(await answer.locator("svg .mark-rect path").count(), 4)
      assert.deepStrictEqual(await answer.locator("p.text").allTextContents(), [
        "Let me look at the data first. ",
        "I'll total units by region with SQL, then chart it. ",
        "Here is a chart of it. ",
        "By region, west has the most total units: 39, ahead of south with 34. The chart shows all 4 values of " +
          "region. (This is the offline scripted model: it always totals the first numeric column by the first text column.)"
      ])
      assert.strictEqual(await page.textContent("#status"), "")
      assert.deepStrictEqual(h.errors, [])
    })
  )
})
