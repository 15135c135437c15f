/**
 * No ask waits forever by default: `request` (5 minutes until the response headers) and
 * `firstEvent` (10 minutes from the request to the first event) have defaults beside `idle`'s
 * 5 minutes, so a provider that accepts a request and then sends nothing fails the ask with a
 * `Timeout`, and the session takes the next ask. Driven by `TestClock`.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Fiber } from "effect"
import { TestClock } from "effect/testing"
import { Agent, HarnessError, Mock } from "../../src/index.js"
import * as Anthropic from "../../src/provider/anthropic/Anthropic.js"
import * as AnthropicServer from "../utils/anthropicServer.js"
import { assertValidHistory } from "../utils/events.js"
import * as Faults from "../utils/faults.js"

const timeoutOf = (error: unknown): HarnessError.Timeout => {
  assert.instanceOf(error, HarnessError.Timeout)
  return error as HarnessError.Timeout
}

describe("default timeouts (scripted provider)", () => {
  it.effect("no first event: Timeout firstEvent after 10 minutes, not before; the session takes the next ask", () =>
    Effect.gen(function* () {
      const agent = yield* Agent.make({ retry: false })
      const session = yield* agent.session()
      const first = yield* Effect.forkChild(session.ask("First question"))
      yield* TestClock.adjust("599999 millis")
      assert.isUndefined(first.pollUnsafe(), "still waiting just before 10 minutes")
      yield* TestClock.adjust("1 millis")
      const timeout = timeoutOf(yield* Effect.flip(Fiber.join(first)))
      assert.strictEqual(timeout.phase, "firstEvent")
      assert.strictEqual(timeout.limitMillis, 600_000)

      assert.strictEqual(yield* session.ask("Second question"), "ok")
      assertValidHistory(yield* session.history)
    }).pipe(Effect.provide(Mock.layer({ turns: [Mock.stall(), Mock.text("ok")] })))
  )

  it.effect("no response headers: Timeout request after 5 minutes", () =>
    Effect.gen(function* () {
      const agent = yield* Agent.make({ retry: false })
      const first = yield* Effect.forkChild(agent.run("First question"))
      yield* TestClock.adjust("299999 millis")
      assert.isUndefined(first.pollUnsafe())
      yield* TestClock.adjust("1 millis")
      const timeout = timeoutOf(yield* Effect.flip(Fiber.join(first)))
      assert.strictEqual(timeout.phase, "request")
      assert.strictEqual(timeout.limitMillis, 300_000)
    }).pipe(Effect.provide(Mock.layer({ turns: [Mock.text("late")], headersDelay: "1 hour" })))
  )

  it.effect('"Infinity" turns a default off', () =>
    Effect.gen(function* () {
      const agent = yield* Agent.make({ retry: false, timeouts: { firstEvent: "Infinity" } })
      const first = yield* Effect.forkChild(agent.run("First question"))
      yield* TestClock.adjust("2 hours")
      assert.isUndefined(first.pollUnsafe())
      yield* Fiber.interrupt(first)
    }).pipe(Effect.provide(Mock.layer({ turns: [Mock.stall()] })))
  )
})

describe("default timeouts (real provider)", () => {
  it.effect("a server that sends headers and then nothing: Timeout firstEvent; the session takes the next ask", () =>
    Effect.gen(function* () {
      const server = yield* AnthropicServer.make()
      server.enqueue({ sse: Faults.textSse(["never sent"]), stallAfterBytes: 0 }, { sse: Faults.textSse(["ok"]) })
      const agent = yield* Agent.make({ builtinTools: false, retry: false }).pipe(
        Effect.provide(Anthropic.layer({ model: "claude-test", apiKey: "sk-test", baseURL: server.url }))
      )
      const session = yield* agent.session()
      const first = yield* Effect.forkChild(session.ask("First question"))
      // the request arrives and its headers go back (real time on the local socket)
      yield* Effect.promise(() => server.request(0))
      yield* TestClock.withLive(Effect.sleep("300 millis"))
      yield* TestClock.adjust("9 minutes")
      assert.isUndefined(first.pollUnsafe(), "headers came, so no request timeout; the first event is not due yet")
      yield* TestClock.adjust("1 minute")
      const timeout = timeoutOf(yield* Effect.flip(Fiber.join(first)))
      assert.strictEqual(timeout.phase, "firstEvent")
      assert.strictEqual(yield* AnthropicServer.awaitOutcome(server, 0), "clientClosed")

      assert.strictEqual(yield* session.ask("Second question"), "ok")
      assertValidHistory(yield* session.history)
    })
  )
})
