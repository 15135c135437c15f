/**
 * Shared pieces of the OpenAI provider's tests: the provider on a local server, one turn's events
 * and how it ended, the fold with every event checked by the wire decoder.
 */
import { assert } from "@effect/vitest"
import { Cause, Effect, Exit, Stream } from "effect"
import { HarnessError, Provider, StreamEvent } from "../../../src/index.js"
import * as OpenAI from "../../../src/provider/openai/OpenAI.js"
import * as OpenAIServer from "../../utils/openaiServer.js"

export const KEY = "sk-proj-TEST-openai-do-not-leak-77aa"
export const MODEL = "gpt-test"

export const json = <A>(value: A): A => JSON.parse(JSON.stringify(value))

export const serverWith = (...replies: ReadonlyArray<OpenAIServer.Script>) =>
  Effect.tap(OpenAIServer.make(), (server) => Effect.sync(() => server.enqueue(...replies)))

export const ask = (text = "hi"): Provider.Request => ({
  messages: [{ role: "user", content: [{ type: "text", text }] }],
  tools: []
})

export const weatherTool: Provider.ToolDefinition = {
  name: "get_weather",
  description: "The weather at a place.",
  input_schema: { type: "object", properties: { location: { type: "string" } }, required: ["location"] }
}

export const service = Effect.gen(function* () {
  return yield* Provider.Provider
})

/** The provider service on `server`, with `options` added. */
export const providerOn = (server: OpenAIServer.OpenAIServer, options: Partial<OpenAI.Options> = {}) =>
  Effect.provide(service, OpenAI.layer({ model: MODEL, apiKey: KEY, baseURL: server.url, ...options }))

/** Streams one turn; returns its events and how the stream ended. */
export const streamTurn = (provider: Provider.Service, request: Provider.Request = ask()) =>
  Effect.suspend(() => {
    const events: Array<StreamEvent.ProviderEvent> = []
    return provider.stream(request).pipe(
      Stream.runForEach((event) => Effect.sync(() => events.push(event))),
      Effect.exit,
      Effect.map((exit) => ({ events: json(events), exit }))
    )
  })

export const failureOf = <A, E>(exit: Exit.Exit<A, E>): E => {
  if (Exit.isSuccess(exit)) throw new Error("expected a failure, got a success")
  return Cause.squash(exit.cause) as E
}

export const providerErrorOf = <A, E>(exit: Exit.Exit<A, E>): HarnessError.ProviderError => {
  const error = failureOf(exit)
  assert.instanceOf(error, HarnessError.ProviderError)
  return error as unknown as HarnessError.ProviderError
}

/** Every event decodes with the wire decoder, and the events fold into a response. */
export const foldChecked = (events: ReadonlyArray<StreamEvent.ProviderEvent>) => {
  for (const event of events) assert.strictEqual(StreamEvent.decodeWire(event)._tag, "Event", JSON.stringify(event))
  return Provider.collect(Stream.fromIterable(events), "openai")
}

export const label = (event: StreamEvent.ProviderEvent): string =>
  event.type === "content_block_start"
    ? `start:${event.index}:${event.content_block.type}`
    : event.type === "content_block_delta"
      ? `delta:${event.index}:${event.delta.type}`
      : event.type === "content_block_stop"
        ? `stop:${event.index}`
        : event.type
