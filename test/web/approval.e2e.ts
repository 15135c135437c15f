/**
 * Tool approval on the analyst page, in Chromium: a server whose agent asks before each email
 * (`Approval.require(sendEmail)`), a scripted model that emails Ana and then quotes what the tool
 * gave back, and the page's approval card: Approve, Deny with a reason, a reload while the call
 * waits, and, on a session store, a pause that outlives its ask.
 */
import { assert, beforeAll, describe, it } from "@effect/vitest"
import { Effect, Layer } from "effect"
import type { Locator, Page } from "playwright-core"
import { Approval, type Message, Mock, SessionStore } from "../../src/index.js"
import { Server } from "../../src/server/index.js"
import { Web } from "../../src/web/index.js"
import { emailInput, sendEmail, sent } from "../fixtures/email.js"
import * as Browser from "./browser.js"

const TOKEN = "token-for-the-approval-test"
const REASON = "emails leave the company"

/** A tool result's text. */
const textOf = (content: string | ReadonlyArray<{ readonly type: string }> | undefined) =>
  content === undefined
    ? ""
    : typeof content === "string"
      ? content
      : content.map((block) => ("text" in block && typeof block.text === "string" ? block.text : "")).join("")

/** Ben's email, for a prompt that names him. */
const benInput = { to: "ben@example.com", body: "Q3 numbers attached" }

/** The tool results since the ask's prompt (the last user message with text). */
const resultsOfAsk = (messages: ReadonlyArray<Message.Message>) => {
  const start = messages.findLastIndex((m) => m.role === "user" && m.content.some((b) => b.type === "text"))
  return messages.slice(start).flatMap((m) => m.content.filter((b) => b.type === "tool_result"))
}

/**
 * The model emails Ana (and then Ben when the prompt names him), then says what the tool gave
 * back (its result, or the denial).
 */
const model = Mock.reply(({ messages, lastToolResults }) => {
  if (lastToolResults.length === 0)
    return Mock.toolCalls([{ name: "send_email", input: emailInput }], "I'll email Ana. ")
  const prompt = messages.findLast((m) => m.role === "user" && m.content.some((b) => b.type === "text"))
  const ben = JSON.stringify(prompt?.content ?? []).includes("Ben")
  return ben && resultsOfAsk(messages).length === 1
    ? Mock.toolCalls([{ name: "send_email", input: benInput }], "Now Ben. ")
    : Mock.text(`The tool said: ${textOf(lastToolResults[0]!.content)}`)
})

/** A server (on a session store when given) whose agent asks before each email. */
const server = (store?: Layer.Layer<SessionStore.SessionStore, SessionStore.StoreError>) =>
  Browser.serve(
    Server.layer({
      port: 0,
      tokens: [{ tenant: "approver", token: TOKEN }],
      agent: { tools: [Approval.require(sendEmail, { reason: REASON })] },
      ...(store === undefined ? {} : { store }),
      routes: Web.routes({ tokens: [{ tenant: "approver", token: TOKEN }] })
    }).pipe(Layer.provide(Mock.layer({ turns: [model], chunkSize: 6, eventDelay: "5 millis", model: "scripted" })))
  )

interface Harness {
  /** The page on the server without a store, and the one on the server with one. */
  readonly page: Page
  readonly stored: Page
  readonly storedUrl: string
  /** Uncaught errors on either page. */
  readonly errors: Array<string>
}

let h: Harness

/** A page of the browser, signed in (the token's cookie) and showing `url`'s page. */
const open = async (page: Page, url: string, errors: Array<string>) => {
  page.on("pageerror", (error) => errors.push(error.message))
  await page.context().addCookies([{ name: "dh_token", value: TOKEN, url }])
  await page.goto(`${url}/`)
  await page.locator("body[data-ready=true]").waitFor()
}

/** The last answer on `page`. */
const lastAnswer = (page: Page) => page.locator("article.answer").last()

/**
 * The email's tool card (the last in `answer` whose approval card waits, then pinned by its id:
 * later answers do not move it), its approval card, and a wait for that card's `data-state`.
 */
const emailCard = async (answer: Locator) => {
  const last = answer.locator("section.tool[data-name=send_email]:has(section.approval[data-state=pending])").last()
  await last.waitFor()
  const tool = answer.page().locator(`section.tool[data-id="${await last.getAttribute("data-id")}"]`)
  return {
    tool,
    approval: tool.locator("section.approval"),
    until: (state: string) => tool.locator(`section.approval[data-state=${state}]`).waitFor()
  }
}

/** Asks for the email and waits for its approval card. */
const askAndWait = async (page: Page, prompt = "Email Ana the Q3 numbers.") => {
  // the tab in front: Chromium slows the timers of a tab behind another
  await page.bringToFront()
  await Browser.ask(page, prompt)
  const card = await emailCard(lastAnswer(page))
  await card.until("pending")
  return card
}

/** Waits for the page's next `GET .../approvals`. */
const listing = (page: Page) =>
  page.waitForResponse((r) => r.url().endsWith("/approvals") && r.request().method() === "GET")

/** The session the page keeps, and a call of the API on it. */
const api = async (page: Page, url: string, method: string, path: string, body?: unknown) => {
  const id = await page.evaluate(() => localStorage.getItem("data-harness.session") ?? "")
  const response = await fetch(`${url}/v1/sessions/${id}${path}`, {
    method,
    headers: { authorization: `Bearer ${TOKEN}`, "content-type": "application/json" },
    ...(body === undefined ? {} : { body: JSON.stringify(body) })
  })
  return {
    status: response.status,
    body: (await response.json()) as {
      readonly message?: string
      readonly running_ask?: string | null
    }
  }
}

describe("tool approval on the analyst page in Chromium", () => {
  beforeAll(
    () =>
      Effect.gen(function* () {
        const plainUrl = yield* server()
        const storedUrl = yield* server(SessionStore.layerMemory())
        const browser = yield* Browser.launch
        const errors: Array<string> = []
        const page = browser.pages()[0] ?? (yield* Effect.promise(() => browser.newPage()))
        const stored = yield* Effect.promise(() => browser.newPage())
        yield* Effect.promise(() => open(page, plainUrl, errors))
        yield* Effect.promise(() => open(stored, storedUrl, errors))
        h = { page, stored, storedUrl, errors }
      }),
    60_000
  )

  it.live("a call that needs approval shows a card with its tool, reason and input; Approve runs it", () =>
    Effect.promise(async () => {
      const { page } = h
      sent.length = 0
      const { tool, approval } = await askAndWait(page)
      assert.strictEqual(await approval.locator("header").textContent(), "Approval needed send_email")
      assert.strictEqual(await approval.locator(".reason").textContent(), REASON)
      assert.strictEqual(await approval.locator("pre.input").textContent(), JSON.stringify(emailInput, null, 2))
      assert.strictEqual(await tool.getAttribute("data-state"), "waiting")
      assert.strictEqual(await tool.locator(".result").textContent(), "waiting for approval…")
      // the ask waits, still running, and nothing was sent
      assert.strictEqual(await lastAnswer(page).getAttribute("data-status"), "running")
      assert.isTrue(await page.isEnabled("#interrupt"))
      assert.deepStrictEqual(sent, [])

      await approval.locator("button.approve").click()
      await Browser.ended(page, "completed")
      assert.strictEqual(await approval.getAttribute("data-state"), "approved")
      assert.strictEqual(await approval.locator(".outcome").textContent(), "Approved.")
      assert.isTrue(await approval.locator("button.approve").isDisabled())
      assert.isTrue(await approval.locator("button.deny").isDisabled())
      assert.strictEqual(await tool.getAttribute("data-state"), "done")
      assert.strictEqual(await tool.locator(".result").textContent(), "sent to ana@example.com")
      assert.deepStrictEqual(sent, ["ana@example.com: Q3 numbers attached"])
      assert.strictEqual(
        await lastAnswer(page).locator("p.text").last().textContent(),
        "The tool said: sent to ana@example.com"
      )
      assert.strictEqual(await page.locator("section.approval").count(), 1)
      assert.deepStrictEqual(h.errors, [])
    })
  )

  it.live("Deny with a reason: the call does not run, and the model's next turn quotes the reason", () =>
    Effect.promise(async () => {
      const { page } = h
      sent.length = 0
      const { tool, approval } = await askAndWait(page)
      await approval.locator("input.deny-reason").fill("Not to external addresses.")
      await approval.locator("button.deny").click()
      await Browser.ended(page, "completed")
      assert.strictEqual(await approval.getAttribute("data-state"), "denied")
      assert.strictEqual(await approval.locator(".outcome").textContent(), "Denied: Not to external addresses.")
      assert.isTrue(await approval.locator("button.approve").isDisabled())
      assert.isTrue(await approval.locator("input.deny-reason").isDisabled())
      assert.strictEqual(await tool.getAttribute("data-state"), "error")
      assert.strictEqual(
        await tool.locator(".result").textContent(),
        "This tool call was denied: Not to external addresses."
      )
      assert.strictEqual(
        await lastAnswer(page).locator("p.text").last().textContent(),
        "The tool said: This tool call was denied: Not to external addresses."
      )
      assert.deepStrictEqual(sent, [])
    })
  )

  it.live(
    "a reload while a call waits shows its card once, from the list and the replayed event; approving it there ends the ask",
    () =>
      Effect.promise(async () => {
        const { page } = h
        sent.length = 0
        await askAndWait(page)
        const events = await lastAnswer(page).getAttribute("data-events")
        const prompts = await page.locator("article.prompt").count()
        const listed = listing(page)
        // (the page is ready only once the running ask has ended: wait for what it shows instead)
        await page.reload()
        assert.strictEqual((await listed).status(), 200)
        // the running ask's events again from its start, up to its approval_request
        await page.waitForFunction(
          `document.querySelector("#conversation article.answer:last-of-type")?.dataset.events === ${JSON.stringify(events)}`
        )
        assert.strictEqual(await page.locator("article.prompt").count(), prompts)
        assert.strictEqual(await page.locator("section.approval").count(), 1)
        const { tool, approval } = await emailCard(lastAnswer(page))
        assert.strictEqual(await approval.count(), 1)
        assert.strictEqual(await approval.getAttribute("data-state"), "pending")
        assert.strictEqual(await tool.getAttribute("data-state"), "waiting")

        await approval.locator("button.approve").click()
        await Browser.ended(page, "completed")
        assert.strictEqual(await tool.locator(".result").textContent(), "sent to ana@example.com")
        assert.deepStrictEqual(sent, ["ana@example.com: Q3 numbers attached"])
        assert.deepStrictEqual(h.errors, [])
      })
  )

  it.live("interrupting while a call waits (no session store) answers it: its card stops waiting", () =>
    Effect.promise(async () => {
      const { page } = h
      sent.length = 0
      const { tool, approval, until } = await askAndWait(page)
      await page.click("#interrupt")
      await Browser.ended(page, "interrupted")
      await until("closed")
      assert.strictEqual(await approval.locator(".outcome").textContent(), "No longer waiting for approval.")
      assert.isTrue(await approval.locator("button.approve").isDisabled())
      assert.notStrictEqual(await tool.getAttribute("data-state"), "waiting")
      assert.deepStrictEqual(sent, [])
    })
  )

  describe("on a session store", () => {
    it.live(
      "an interrupted pause still waits: after a reload its card comes from the list, and Deny resumes the ask, shown as resumed and not as a prompt",
      () =>
        Effect.promise(async () => {
          const page = h.stored
          sent.length = 0
          await askAndWait(page)
          await page.click("#interrupt")
          await Browser.ended(page, "interrupted")

          const listed = listing(page)
          await page.reload()
          await page.locator("body[data-ready=true]").waitFor()
          await listed
          const { tool, approval, until } = await emailCard(lastAnswer(page))
          await until("pending")
          assert.strictEqual(await page.locator("section.approval").count(), 1)
          assert.strictEqual(await tool.getAttribute("data-state"), "waiting")
          assert.deepStrictEqual(await page.locator("article.prompt").allTextContents(), ["Email Ana the Q3 numbers."])

          await approval.locator("input.deny-reason").fill("Not today.")
          await approval.locator("button.deny").click()
          await page.locator("article.resumed").waitFor()
          await Browser.ended(page, "completed")
          assert.strictEqual(await page.locator("article.resumed").textContent(), "Resumed after the approval decision")
          assert.deepStrictEqual(await page.locator("article.prompt").allTextContents(), ["Email Ana the Q3 numbers."])
          assert.strictEqual(await approval.locator(".outcome").textContent(), "Denied: Not today.")
          // the call's result shows on its card in the answer that made it; the resumed answer goes on
          assert.strictEqual(await tool.getAttribute("data-state"), "error")
          assert.strictEqual(await tool.locator(".result").textContent(), "This tool call was denied: Not today.")
          assert.strictEqual(
            await lastAnswer(page).locator("p.text").last().textContent(),
            "The tool said: This tool call was denied: Not today."
          )
          assert.deepStrictEqual(sent, [])
          assert.deepStrictEqual(h.errors, [])
        })
    )

    it.live("a call decided elsewhere while its card waits: clicking shows the server's 409 message on the card", () =>
      Effect.promise(async () => {
        const page = h.stored
        sent.length = 0
        const { approval, until } = await askAndWait(page)
        // the page lists the waiting calls when the ask ends: the call still waits then
        const listed = listing(page)
        await page.click("#interrupt")
        await Browser.ended(page, "interrupted")
        assert.strictEqual((await listed).status(), 200)
        const toolUseId = (await approval.getAttribute("data-id")) ?? ""
        const elsewhere = await api(page, h.storedUrl, "POST", `/approvals/${toolUseId}`, { decision: "approve" })
        assert.strictEqual(elsewhere.status, 200)
        const again = await api(page, h.storedUrl, "POST", `/approvals/${toolUseId}`, { decision: "approve" })
        assert.strictEqual(again.status, 409)

        await approval.locator("button.approve").click()
        await until("refused")
        assert.strictEqual(await approval.locator(".outcome").textContent(), again.body.message)
        assert.include(again.body.message ?? "", toolUseId)
        assert.isTrue(await approval.locator(".outcome.error").isVisible())
        assert.isTrue(await approval.locator("button.approve").isDisabled())
        assert.isTrue(await approval.locator("button.deny").isDisabled())
        assert.deepStrictEqual(h.errors, [])
      })
    )

    it.live(
      "a reload while a resumed ask waits again shows the paused ask from the history, then the resumed one from its events",
      () =>
        Effect.promise(async () => {
          const page = h.stored
          sent.length = 0
          // the ask the previous test's decision resumed (on the server only) has ended
          while ((await api(page, h.storedUrl, "GET", "")).body.running_ask !== null) {
            await new Promise((resolve) => setTimeout(resolve, 50))
          }
          const ana = await askAndWait(page, "Email Ana, then Ben.")
          await page.click("#interrupt")
          await Browser.ended(page, "interrupted")
          await ana.approval.locator("button.approve").click()
          // the resumed ask sends Ana's email, and the model asks to email Ben
          const ben = await emailCard(lastAnswer(page))
          assert.notStrictEqual(await ben.tool.getAttribute("data-id"), await ana.tool.getAttribute("data-id"))
          assert.deepStrictEqual(sent, ["ana@example.com: Q3 numbers attached"])

          await page.reload()
          const again = await emailCard(lastAnswer(page))
          assert.strictEqual(await again.tool.getAttribute("data-id"), await ben.tool.getAttribute("data-id"))
          const prompts = await page.locator("article.prompt").allTextContents()
          assert.strictEqual(prompts.filter((p) => p === "Email Ana, then Ben.").length, 1)
          assert.strictEqual(prompts.at(-1), "Email Ana, then Ben.")
          assert.strictEqual(await page.locator("article.resumed").count(), 1)
          // Ana's call, from the history, before the resumed ask; its result came in the resumed ask
          assert.strictEqual(await ana.tool.count(), 1)
          assert.strictEqual(await ana.tool.locator(".result").textContent(), "sent to ana@example.com")
          const anaId = await ana.tool.getAttribute("data-id")
          assert.strictEqual(
            await page.locator(`article.answer:has(~ article.resumed) section.tool[data-id="${anaId}"]`).count(),
            1
          )
          assert.strictEqual(await page.locator("section.approval").count(), 1)

          await again.approval.locator("button.approve").click()
          await Browser.ended(page, "completed")
          assert.strictEqual(
            await lastAnswer(page).locator("p.text").last().textContent(),
            "The tool said: sent to ben@example.com"
          )
          assert.deepStrictEqual(sent, ["ana@example.com: Q3 numbers attached", "ben@example.com: Q3 numbers attached"])
          assert.deepStrictEqual(h.errors, [])
        }),
      60_000
    )
  })
})
