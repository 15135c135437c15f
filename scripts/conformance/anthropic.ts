/**
 * The conformance runner for recorded Anthropic Messages streams (`expect.sdk_reference.package`
 * `@anthropic-ai/sdk`; `expect.message` is the SDK's `finalMessage()` on the same bytes).
 *
 * Each fixture's bytes are served by a local HTTP server and read through
 * `Anthropic.layer({ baseURL })`, the way a user's run reads the API, twice:
 *
 * 1. **Provider**: `provider.stream(request)`. Its events must equal the wire's JSON, in order,
 *    minus `ping`s (every field kept); folded with `Provider.collect`, the response must match the
 *    SDK's message: `id`, `model`, `stop_reason`, `stop_sequence`, `content` (deep-equal) and the
 *    four usage counters.
 * 2. **Agent**: a session's `askStream` and a fresh `agent.runResult`, with no tools (a `tool_use`
 *    gets the harness's "unknown tool" error result) and the server answering any later turn with
 *    a short text. The first turn's events must equal the wire's; the session history must hold
 *    the user prompt, then the SDK's content as the assistant message as it may be sent back
 *    (`Message.sendable`: whitespace-only text merged into its neighbour or dropped, since the API
 *    rejects it; events keep it as it arrived); a `pause_turn` continuation is appended to
 *    it), and every `tool_use` must have its `tool_result` in the next message. The `RunResult`
 *    must have the fixture's text, stop reason and usage when the fixture's turn is the last, and
 *    two turns with both turns' usage when the harness continues it (tool calls, `pause_turn`).
 *
 * Message-level fields a `NormalizedResponse` does not carry (`container`, `context_management`,
 * usage details such as `server_tool_use`, `iterations`, `service_tier`) are not compared: they
 * reach the user in the events, which are compared whole.
 */
import { Effect, Stream } from "effect"
import * as Agent from "../../src/agent/Agent.js"
import * as Message from "../../src/core/Message.js"
import type { NormalizedResponse } from "../../src/core/NormalizedResponse.js"
import type * as StreamEvent from "../../src/core/StreamEvent.js"
import * as Anthropic from "../../src/provider/anthropic/Anthropic.js"
import * as Provider from "../../src/provider/Provider.js"
import { providerEventTypes } from "../../test/utils/anthropicServer.js"
import type { Check, Fixture } from "./index.js"
import * as Server from "./server.js"

// biome-ignore lint/suspicious/noExplicitAny: wire JSON
type Json = any

const PROMPT = "Replay of a recorded stream."
const DONE_TEXT = "conformance: done"

/** The text turn the server answers any turn after the fixture's with. */
const doneSse = [
  {
    type: "message_start",
    message: {
      id: "msg_conformance_done",
      type: "message",
      role: "assistant",
      model: "conformance",
      content: [],
      stop_reason: null,
      stop_sequence: null,
      usage: { input_tokens: 1, output_tokens: 0 }
    }
  },
  { type: "content_block_start", index: 0, content_block: { type: "text", text: "" } },
  { type: "content_block_delta", index: 0, delta: { type: "text_delta", text: DONE_TEXT } },
  { type: "content_block_stop", index: 0 },
  { type: "message_delta", delta: { stop_reason: "end_turn", stop_sequence: null }, usage: { output_tokens: 1 } },
  { type: "message_stop" }
]
  .map((event) => `event: ${event.type}\ndata: ${JSON.stringify(event)}\n\n`)
  .join("")

/**
 * The events of an SSE body by the SDK's reading of it (a message is dispatched at a blank line;
 * `data:` lines joined with `\n`; a message without `event:` or with `event: ping` skipped),
 * keeping the provider event types. Independent of the harness's own parser on purpose.
 */
export const wireEvents = (text: string): Array<Json> => {
  const out: Array<Json> = []
  let event: string | undefined
  let data: Array<string> = []
  const dispatch = () => {
    if (event !== undefined && event !== "ping" && data.length > 0) {
      const parsed = JSON.parse(data.join("\n"))
      if (providerEventTypes.has(parsed.type)) out.push(parsed)
    }
    event = undefined
    data = []
  }
  for (const line of text.split(/\r\n|\r|\n/)) {
    if (line === "") dispatch()
    else if (line.startsWith("data:")) data.push(line.slice(line.startsWith("data: ") ? 6 : 5))
    else if (line.startsWith("event:")) event = line.slice(line.startsWith("event: ") ? 7 : 6)
  }
  dispatch()
  return out
}

const show = (value: unknown): string => {
  const text = JSON.stringify(value)
  return text === undefined ? String(value) : text.length > 80 ? `${text.slice(0, 80)}…` : text
}

/** The first place where `actual` differs from `expected` (JSON values), or `undefined`. */
export const firstDifference = (expected: Json, actual: Json, path = "$"): string | undefined => {
  if (Object.is(expected, actual)) return undefined
  if (typeof expected !== "object" || expected === null || typeof actual !== "object" || actual === null) {
    return `${path}: expected ${show(expected)}, got ${show(actual)}`
  }
  if (Array.isArray(expected) !== Array.isArray(actual))
    return `${path}: expected ${show(expected)}, got ${show(actual)}`
  const keys = new Set([...Object.keys(expected), ...Object.keys(actual)])
  for (const key of keys) {
    if (!(key in actual)) return `${path}.${key}: missing (expected ${show(expected[key])})`
    if (!(key in expected)) return `${path}.${key}: not expected (got ${show(actual[key])})`
    const difference = firstDifference(expected[key], actual[key], `${path}.${key}`)
    if (difference !== undefined) return difference
  }
  return undefined
}

/** The events compared with the wire's: same count, each deep-equal. */
const compareEvents = (what: string, wire: ReadonlyArray<Json>, events: ReadonlyArray<unknown>): Array<string> => {
  if (events.length !== wire.length)
    return [`${what}: ${events.length} events, the wire has ${wire.length} (pings left out)`]
  for (let i = 0; i < wire.length; i++) {
    const difference = firstDifference(wire[i], JSON.parse(JSON.stringify(events[i])))
    if (difference !== undefined) return [`${what}: event ${i} (${wire[i].type}) differs at ${difference}`]
  }
  return []
}

interface Counters {
  readonly inputTokens: number
  readonly outputTokens: number
  readonly cacheReadTokens: number
  readonly cacheWriteTokens: number
}

const countersOf = (usage: Json): Counters => ({
  inputTokens: usage?.input_tokens ?? 0,
  outputTokens: usage?.output_tokens ?? 0,
  cacheReadTokens: usage?.cache_read_input_tokens ?? 0,
  cacheWriteTokens: usage?.cache_creation_input_tokens ?? 0
})

const plainCounters = (usage: Counters): Counters => ({
  inputTokens: usage.inputTokens,
  outputTokens: usage.outputTokens,
  cacheReadTokens: usage.cacheReadTokens,
  cacheWriteTokens: usage.cacheWriteTokens
})

/** The folded response against the SDK's message. */
const compareResponse = (expected: Json, response: NormalizedResponse): Array<string> => {
  const failures: Array<string> = []
  const field = (name: string, want: unknown, got: unknown) => {
    const difference = firstDifference(want, got === undefined ? null : JSON.parse(JSON.stringify(got)))
    if (difference !== undefined) failures.push(`response ${name} ${difference.replace(/^\$/, "")}`)
  }
  field("id", expected.id, response.id)
  field("model", expected.model, response.model)
  field("stop_reason", expected.stop_reason, response.stopReason)
  field("stop_sequence", expected.stop_sequence ?? null, response.stopSequence ?? null)
  field("content", expected.content, response.content)
  field("usage", countersOf(expected.usage), plainCounters(response.usage))
  return failures
}

const withServer = <A, E>(
  fixture: Fixture,
  body: (server: Server.ReplayServer) => Effect.Effect<A, E>
): Effect.Effect<A, E> =>
  Effect.acquireUseRelease(
    Effect.promise(() => Server.start([{ body: fixture.sse }], { body: doneSse })),
    body,
    (server) => Effect.promise(() => server.close())
  )

const layerAt = (server: Server.ReplayServer) =>
  Anthropic.layer({ model: "claude-conformance", apiKey: "sk-ant-conformance", baseURL: server.url })

/** Check 1: the provider's events and their fold. */
const checkProvider = (fixture: Fixture, wire: ReadonlyArray<Json>, expected: Json) =>
  withServer(fixture, (server) =>
    Effect.gen(function* () {
      const provider = yield* Provider.Provider
      const request: Provider.Request = { messages: [Message.user(PROMPT)], tools: [] }
      const events = Array.from(yield* Stream.runCollect(provider.stream(request)))
      const response = yield* Provider.collect(Stream.fromIterable(events), "anthropic")
      return [...compareEvents("provider events", wire, events), ...compareResponse(expected, response)]
    }).pipe(Effect.provide(layerAt(server)))
  )

/** What the session's history must hold after the ask. */
const compareHistory = (expected: Json, history: Message.History): Array<string> => {
  const failures: Array<string> = []
  const first = history[0]
  if (first?.role !== "user" || Message.textOf(first.content) !== PROMPT) failures.push("history[0] is not the prompt")
  const assistant = history[1]
  // the harness commits what may be sent back: whitespace-only text merged into its neighbour
  const kept = Message.sendable(expected.content as Array<Message.ContentBlock>) as Array<Json>
  if (assistant?.role !== "assistant") return [...failures, "history[1] is not an assistant message"]
  const difference = firstDifference(kept, JSON.parse(JSON.stringify(assistant.content.slice(0, kept.length))))
  if (difference !== undefined) failures.push(`history[1].content${difference.replace(/^\$/, "")}`)
  const uses = Message.toolUses(kept as Array<Message.ContentBlock>)
  const answered = new Set(
    (history[2]?.content ?? []).flatMap((block) =>
      block.type === "tool_result" ? [(block as Message.ToolResultBlock).tool_use_id] : []
    )
  )
  for (const use of uses)
    if (!answered.has(use.id)) failures.push(`tool_use ${use.id} has no tool_result in history[2]`)
  return failures
}

/** Check 2: a session's stream and history. */
const checkSession = (fixture: Fixture, wire: ReadonlyArray<Json>, expected: Json) =>
  withServer(fixture, (server) =>
    Effect.scoped(
      Effect.gen(function* () {
        const agent = yield* Agent.make({ builtinTools: false, retry: false, maxTurns: 3 })
        const session = yield* agent.session()
        const events: Array<StreamEvent.StreamEvent> = Array.from(yield* Stream.runCollect(session.askStream(PROMPT)))
        const stop = events.findIndex((event) => event.type === "message_stop")
        const firstTurn = events.slice(0, stop + 1)
        return [
          ...compareEvents("session events", wire, firstTurn),
          ...compareHistory(expected, yield* session.history)
        ]
      })
    ).pipe(Effect.provide(layerAt(server)))
  )

const addCounters = (a: Counters, b: Counters): Counters => ({
  inputTokens: a.inputTokens + b.inputTokens,
  outputTokens: a.outputTokens + b.outputTokens,
  cacheReadTokens: a.cacheReadTokens + b.cacheReadTokens,
  cacheWriteTokens: a.cacheWriteTokens + b.cacheWriteTokens
})

/** Check 3: a one-shot run's result. */
const checkRunResult = (fixture: Fixture, expected: Json) =>
  withServer(fixture, (server) =>
    Effect.gen(function* () {
      const agent = yield* Agent.make({ builtinTools: false, retry: false, maxTurns: 3 })
      const result = yield* agent.runResult(PROMPT)
      const content = expected.content as Array<Message.ContentBlock>
      const continues = Message.toolUses(content).length > 0 || expected.stop_reason === "pause_turn"
      const usage = countersOf(expected.usage)
      const want = continues
        ? {
            text: DONE_TEXT,
            stopReason: "end_turn",
            turns: 2,
            usage: addCounters(usage, countersOf({ input_tokens: 1, output_tokens: 1 }))
          }
        : { text: Message.textOf(content), stopReason: expected.stop_reason, turns: 1, usage }
      const got = {
        text: result.text,
        stopReason: result.stopReason,
        turns: result.turns,
        usage: plainCounters(result.usage)
      }
      const difference = firstDifference(want, got)
      return difference === undefined ? [] : [`RunResult ${difference.replace(/^\$/, "")}`]
    }).pipe(Effect.provide(layerAt(server)))
  )

const describeFailure = (what: string) => (error: unknown) =>
  Effect.succeed([`${what} failed: ${error instanceof Error ? error.message : show(error)}`])

/** Checks one recorded Anthropic stream; see the module comment. */
export const check: Check = (fixture) => {
  const expected = fixture.expect.message as Json
  if (fixture.expect.outcome !== "message" || expected == null) {
    return Promise.resolve([
      `outcome ${show(fixture.expect.outcome)}: only fixtures that end in a message are replayed`
    ])
  }
  const wire = wireEvents(new TextDecoder().decode(fixture.sse))
  return Effect.runPromise(
    Effect.all(
      [
        checkProvider(fixture, wire, expected).pipe(Effect.catch(describeFailure("the provider stream"))),
        checkSession(fixture, wire, expected).pipe(Effect.catch(describeFailure("the session ask"))),
        checkRunResult(fixture, expected).pipe(Effect.catch(describeFailure("the run")))
      ],
      { concurrency: 1 }
    ).pipe(Effect.map((lists) => lists.flat()))
  )
}
