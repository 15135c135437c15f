/**
 * A local HTTP server that speaks the Anthropic Messages API from scripted replies, for tests and
 * benchmarks that run the real `@anthropic-ai/sdk` client against it through `baseURL`.
 *
 * Each `POST /v1/messages` takes the next scripted {@link Reply} (or the default one): a JSON
 * answer with any status and headers, pre-rendered SSE bytes written in chunks of a chosen size
 * (1 = a byte at a time) with optional delays, a connection dropped or stalled after some bytes,
 * or no answer at all. Every request is recorded (parsed body, headers), and for every request
 * the server tells whether the client closed it before the reply was finished, so interruption
 * tests can assert that the HTTP request was really aborted.
 *
 * Use {@link make} as a scoped Effect resource or {@link start} from plain async code; both close
 * every socket when released.
 *
 * @example
 * ```ts
 * const server = yield* AnthropicServer.make
 * server.enqueue({ sse: AnthropicServer.fixture("text.sse") })
 * const client = new Anthropic({ apiKey: "test", baseURL: server.url })
 * ```
 */
import { readFileSync } from "node:fs"
import { Effect } from "effect"
import * as Scripted from "./scriptedServer.js"

// replies (shared with the Chat Completions server: `scriptedServer.ts`)

export type * from "./scriptedServer.js"

/**
 * A running test server.
 */
export type AnthropicServer = Scripted.ScriptedServer

// rendering

/**
 * Renders events as SSE: `event: <type>\ndata: <json>\n\n` per event.
 */
export const sse = (events: ReadonlyArray<{ readonly type: string }>): string => {
  let out = ""
  for (const event of events) out += `event: ${event.type}\ndata: ${JSON.stringify(event)}\n\n`
  return out
}

/**
 * Parses SSE text back into its JSON data objects (every `data:` payload that is JSON), in order.
 */
// biome-ignore lint/suspicious/noExplicitAny: wire JSON that tests index into freely
export const parseSse = (text: string): Array<any> => {
  // biome-ignore lint/suspicious/noExplicitAny: as above
  const out: Array<any> = []
  for (const frame of text.split(/\r?\n\r?\n/)) {
    const data = frame
      .split(/\r?\n/)
      .filter((line) => line.startsWith("data:"))
      .map((line) => line.slice(line.startsWith("data: ") ? 6 : 5))
      .join("\n")
    if (data.length === 0) continue
    try {
      out.push(JSON.parse(data))
    } catch {
      // not JSON: skipped
    }
  }
  return out
}

const fixturesDir = new URL("../fixtures/anthropic/", import.meta.url)

/**
 * Reads a fixture from `test/fixtures/anthropic/` as text.
 */
export const fixture = (name: string): string => readFileSync(new URL(name, fixturesDir), "utf8")

/**
 * The tool input that `tool-use.sse` streams in pieces split inside strings, escapes and numbers.
 */
export const toolUseInput = {
  location: "San Francisco, CA",
  unit: "fahrenheit",
  days: 14,
  threshold: -25,
  note: 'café "quoted" \\ ☕',
  tags: ["a", true, null]
}

/**
 * Reads a JSON fixture from `test/fixtures/anthropic/`.
 */
// biome-ignore lint/suspicious/noExplicitAny: wire JSON that tests index into freely
export const fixtureJson = (name: string): any => JSON.parse(fixture(name))

/**
 * An `error` reply in the API's shape: `{ type: "error", error: { type, message }, request_id }`.
 */
export const errorReply = (
  status: number,
  type: string,
  message: string,
  headers: Readonly<Record<string, string>> = {}
): Scripted.JsonReply => ({
  status,
  headers: { "request-id": `req_test_${status}`, ...headers },
  json: { type: "error", error: { type, message }, request_id: `req_test_${status}` }
})

// server

/**
 * Starts a server on 127.0.0.1 at a free port (`start`), or as a scoped resource closed on release
 * (`make`). `POST /v1/messages` takes the scripted replies; request ids are in `request-id`.
 */
export const { start, make } = Scripted.forApi({
  requestIdHeader: "request-id",
  scripted: (method, url) => method === "POST" && url?.startsWith("/v1/messages") === true,
  basePath: "",
  defaultReply: errorReply(500, "api_error", "the test server has no scripted reply left")
})

/**
 * Waits, in an Effect, until the server has seen request `index` end, and returns how it ended.
 */
export const awaitOutcome = (server: AnthropicServer, index: number): Effect.Effect<Scripted.Outcome> =>
  Effect.promise(() => server.outcome(index))

/** The event types the provider streams (not `ping`, `error` or unknown types). */
export const providerEventTypes: ReadonlySet<string> = new Set([
  "message_start",
  "content_block_start",
  "content_block_delta",
  "content_block_stop",
  "message_delta",
  "message_stop"
])

/** The events a fixture should stream: its data objects without `ping`, `error` and unknown types. */
export const expectedEvents = (name: string) =>
  parseSse(fixture(name)).filter((event) => providerEventTypes.has(event.type))
