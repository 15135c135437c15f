import Anthropic from "@anthropic-ai/sdk"
import { assert, it } from "@effect/vitest"
import { Effect } from "effect"
import { Mock } from "../../src/index.js"
import { call, startServer, TOKEN_A } from "./helpers.js"

it.live("smoke messages", () =>
  Effect.scoped(
    Effect.gen(function* () {
      const { url } = yield* startServer({
        turns: [
          Mock.toolCall("list_variables"),
          Mock.toolCall("javascript", { code: "1 + 1" }),
          Mock.reply(({ lastToolResults }) => Mock.text(`two is ${JSON.stringify(lastToolResults[0]?.content)}`))
        ],
        chunkSize: 3
      })
      const client = new Anthropic({ apiKey: TOKEN_A, baseURL: url })
      const message = yield* Effect.promise(() =>
        client.beta.messages
          .stream({ model: "x", max_tokens: 100, messages: [{ role: "user", content: "hi" }] })
          .finalMessage()
      )
      console.log(JSON.stringify(message, null, 1))
      const whole = yield* Effect.promise(() =>
        client.beta.messages.create({ model: "x", max_tokens: 100, messages: [{ role: "user", content: "hi" }] })
      )
      console.log(JSON.stringify(whole))
      console.log(JSON.stringify(yield* call(url, "POST", "/v1/messages", { body: { model: 1, messages: [] } })))
      console.log(JSON.stringify(yield* call(url, "POST", "/v1/messages", { token: "nope", body: {} })))
      const err = yield* Effect.promise(() =>
        new Anthropic({ apiKey: "nope", baseURL: url }).messages
          .create({ model: "x", max_tokens: 100, messages: [{ role: "user", content: "hi" }] })
          .then(
            () => "ok",
            (e) => `${e.constructor.name} ${e.status} ${JSON.stringify(e.error)}`
          )
      )
      console.log(err)
      assert.ok(message)
    })
  )
)
