import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { TestClock } from "effect/testing"
import { Mock } from "../../src/index.js"
import { createSession, startServer, TOKEN_A } from "./helpers.js"

describe("keep-alive", () => {
  it.effect("an idle event stream gets a keep-alive comment each interval (TestClock)", () =>
    Effect.scoped(
      Effect.gen(function* () {
        const { url } = yield* startServer({ turns: [Mock.text("hi")] }, { keepAlive: "15 seconds" })
        const id = yield* createSession(url)
        const reader = yield* Effect.promise(async () => {
          const response = await fetch(`${url}/v1/sessions/${id}/events?follow=true`, {
            headers: { authorization: `Bearer ${TOKEN_A}` }
          })
          return response.body!.getReader()
        })
        const decoder = new TextDecoder()
        const read = Effect.promise(() => reader.read()).pipe(
          Effect.map((chunk) => (chunk.done ? "" : decoder.decode(chunk.value)))
        )
        assert.strictEqual(yield* read, ": open\n\n")
        yield* TestClock.adjust("15 seconds")
        assert.strictEqual(yield* read, ": keepalive\n\n")
        yield* TestClock.adjust("15 seconds")
        assert.strictEqual(yield* read, ": keepalive\n\n")
        yield* Effect.promise(() => reader.cancel())
      })
    )
  )
})
