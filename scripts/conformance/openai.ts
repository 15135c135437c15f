/**
 * Conformance of the OpenAI-compatible provider with real Chat Completions streams: each
 * `NAME.sse` of a corpus directory (e.g. `../shared/conformance/openai-real/`) is served by a
 * local HTTP server, read through `OpenAI.layer` (the real SDK request, the real body reader) and
 * checked against `NAME.expect.json`:
 *
 * - the events: each decodes with `StreamEvent.decodeWire`, and `Provider.collect` folds them;
 * - the text, the thinking (joined, never only the last delta), a signature and encrypted reasoning
 *   where the stream had them, and every tool call with its arguments parsed, against the chunks'
 *   own concatenation (`chunk_concat`), not the SDK's fold where it is wrong (`sdk_fold_notes`);
 * - the stop reason the stream's last `finish_reason` maps to (without one: `tool_use` when it
 *   called tools, else `end_turn`) and the usage of its last usage chunk (Groq's `x_groq.usage` when
 *   that is the only one);
 * - for a stream with an error inside it, a typed `ProviderError` carrying that error's message.
 *
 * Every stream is read twice: in one write, and cut into 7-byte writes.
 *
 * Run alone: `tsx scripts/conformance/openai.ts <dir>` prints each failure and `N passed, M failed`
 * (exit code 1 when any failed). The conformance dispatcher calls {@link checkFixture}.
 */
import { readdirSync, readFileSync } from "node:fs"
import { join } from "node:path"
import { pathToFileURL } from "node:url"
import { Cause, Effect, Exit, Stream } from "effect"
import { ProviderError } from "../../src/core/HarnessError.js"
import type * as Message from "../../src/core/Message.js"
import * as StreamEvent from "../../src/core/StreamEvent.js"
import * as OpenAI from "../../src/provider/openai/OpenAI.js"
import * as Provider from "../../src/provider/Provider.js"
import * as LocalServer from "../../test/utils/localServer.js"

/** What {@link checkFixture} found. */
export interface Result {
  readonly ok: boolean
  readonly detail?: string
}

// biome-ignore lint/suspicious/noExplicitAny: the expectation file's JSON, indexed freely
type Json = any

/** Serves `bytes` to every request, written `chunkSize` bytes at a time (0: one write). */
const serve = async (
  bytes: Buffer,
  chunkSize: number
): Promise<{ readonly url: string; readonly close: () => void }> => {
  const server = await LocalServer.listen((req, res) => {
    req.resume()
    req.on("end", async () => {
      res.writeHead(200, { "content-type": "text/event-stream" })
      if (chunkSize <= 0) return res.end(bytes)
      for (let offset = 0; offset < bytes.length; offset += chunkSize) {
        if (!res.write(bytes.subarray(offset, offset + chunkSize))) {
          await new Promise((done) => res.once("drain", done))
        }
      }
      res.end()
    })
  })
  return { url: `http://127.0.0.1:${server.port}/v1`, close: () => void server.close() }
}

/** Reads the stream through the provider: its events and how it ended. */
const readThrough = async (url: string) => {
  const events: Array<StreamEvent.ProviderEvent> = []
  const program = Effect.gen(function* () {
    const provider = yield* Provider.Provider
    return yield* provider
      .stream({ messages: [{ role: "user", content: [{ type: "text", text: "hello" }] }], tools: [] })
      .pipe(Stream.runForEach((event) => Effect.sync(() => events.push(event))))
  }).pipe(Effect.provide(OpenAI.layer({ model: "replay", apiKey: "sk-conformance", baseURL: url })))
  const exit = await Effect.runPromiseExit(program)
  return { events, exit }
}

const json = (value: unknown) => JSON.stringify(value)

const stopReasons: Record<string, string> = {
  stop: "end_turn",
  tool_calls: "tool_use",
  function_call: "tool_use",
  length: "max_tokens",
  content_filter: "refusal"
}

/**
 * Groq's usage in `x_groq.usage`, the last one the stream carried: `chunk_concat` looks at the
 * top-level `usage` only, and a Groq stream may carry its usage only there (p09).
 */
const groqUsage = (sse: string): Json =>
  sse
    .split("\n")
    .filter((line) => line.startsWith("data: {"))
    .map((line) => JSON.parse(line.slice(6)))
    .map((chunk) => chunk.x_groq?.usage)
    .filter((usage) => usage != null)
    .pop()

/** The expected turn, from the chunks' own concatenation. */
const expected = (expect: Json, sse: string) => {
  const concat = expect.chunk_concat
  const choice = concat.choices?.["0"] ?? {}
  const parts: Array<Json> = choice.content_parts ?? []
  const partText = parts.filter((p) => p.type === "text").map((p) => p.text ?? "")
  const partThinking = parts
    .filter((p) => p.type === "thinking")
    .flatMap((p) => (typeof p.thinking === "string" ? [p.thinking] : (p.thinking ?? []).map((t: Json) => t.text ?? "")))
  const details: Array<Json> = choice.reasoning_details ?? []
  const detailText = details
    .filter((d) => d.type !== "reasoning.encrypted")
    .map((d) => d.text ?? d.summary ?? "")
    .join("")
  const thinking =
    choice.reasoning_content ?? choice.reasoning ?? (detailText !== "" ? detailText : partThinking.join(""))
  const signature = details.map((d) => d.signature).filter((s) => typeof s === "string" && s !== "")
  const encrypted = details.filter((d) => d.type === "reasoning.encrypted").map((d) => d.data)
  const calls = Object.values(choice.tool_calls ?? {}) as Array<Json>
  const finishes: Array<string> = choice.finish_reasons ?? []
  const last = finishes[finishes.length - 1]
  const usage = concat.last_usage ?? groqUsage(sse)
  const cached = usage?.prompt_tokens_details?.cached_tokens ?? usage?.prompt_cache_hit_tokens ?? 0
  return {
    texts: [(choice.content ?? "") + partText.join(""), partText.join("") + (choice.content ?? "")],
    refusal: choice.refusal ?? "",
    thinking: thinking ?? "",
    signature: signature[signature.length - 1] as string | undefined,
    encrypted,
    calls: calls.map((c) => ({ id: c.id, name: c.name, input: c.arguments_json })),
    stopReason: last === undefined ? (calls.length > 0 ? "tool_use" : "end_turn") : (stopReasons[last] ?? last),
    usage:
      usage == null
        ? { inputTokens: 0, outputTokens: 0, cacheReadTokens: 0, cacheWriteTokens: 0 }
        : {
            inputTokens: (usage.prompt_tokens ?? 0) - cached,
            outputTokens: usage.completion_tokens ?? 0,
            cacheReadTokens: cached,
            cacheWriteTokens: 0
          }
  }
}

const blocksOf = <T extends Message.ContentBlock>(content: ReadonlyArray<Message.ContentBlock>, type: string) =>
  content.filter((block) => block.type === type) as unknown as Array<T>

/** Compares one read of a completed stream with the expectation; returns what differs. */
const compare = async (
  events: ReadonlyArray<StreamEvent.ProviderEvent>,
  expect: ReturnType<typeof expected>
): Promise<Array<string>> => {
  const problems: Array<string> = []
  for (const event of events) {
    if (StreamEvent.decodeWire(event)._tag !== "Event") problems.push(`an event does not decode: ${json(event)}`)
  }
  const folded = await Effect.runPromiseExit(Provider.collect(Stream.fromIterable(events), "openai"))
  if (Exit.isFailure(folded)) return [...problems, `the events do not fold: ${Cause.pretty(folded.cause)}`]
  const response = folded.value
  const text = response.text
  const wantText = expect.texts.map((t) => t + expect.refusal)
  if (!wantText.includes(text))
    problems.push(`text ${json(text.slice(0, 80))}, expected ${json(wantText[0]!.slice(0, 80))}`)
  const thinking = blocksOf<Message.ThinkingBlock>(response.content, "thinking")
  const thought = thinking.map((b) => b.thinking).join("")
  if (thought !== expect.thinking) {
    problems.push(
      `thinking ${json(thought.slice(0, 60))} (${thought.length}), expected ${expect.thinking.length} characters`
    )
  }
  if (expect.signature !== undefined && !thinking.some((b) => b.signature === expect.signature)) {
    problems.push("the reasoning signature is not on a thinking block")
  }
  const redacted = blocksOf<Message.RedactedThinkingBlock>(response.content, "redacted_thinking").map((b) => b.data)
  if (json(redacted) !== json(expect.encrypted))
    problems.push(`redacted thinking ${redacted.length}, expected ${expect.encrypted.length}`)
  const calls = blocksOf<Message.ToolUseBlock>(response.content, "tool_use").map((b) => ({
    id: b.id,
    name: b.name,
    input: b.input
  }))
  if (json(calls) !== json(expect.calls)) problems.push(`tool calls ${json(calls)}, expected ${json(expect.calls)}`)
  if (response.stopReason !== expect.stopReason) {
    problems.push(`stop reason ${response.stopReason}, expected ${expect.stopReason}`)
  }
  if (json(response.usage) !== json(expect.usage))
    problems.push(`usage ${json(response.usage)}, expected ${json(expect.usage)}`)
  return problems
}

/**
 * Checks one fixture of `dir` (`NAME.sse` against `NAME.expect.json`) through the provider.
 *
 * @example
 * ```ts
 * const { ok, detail } = await checkFixture("../shared/conformance/openai-real", "p02_openai_tool_call")
 * ```
 */
export const checkFixture = async (dir: string, name: string): Promise<Result> => {
  const bytes = readFileSync(join(dir, `${name}.sse`))
  const expect: Json = JSON.parse(readFileSync(join(dir, `${name}.expect.json`), "utf8"))
  const inStreamError = expect.outcome === "error" && expect.error?.error != null
  const problems: Array<string> = []
  for (const chunkSize of [0, 7]) {
    const server = await serve(bytes, chunkSize)
    try {
      const { events, exit } = await readThrough(server.url)
      const how = chunkSize === 0 ? "whole" : `${chunkSize}-byte writes`
      if (inStreamError) {
        const error = Exit.isFailure(exit) ? Cause.squash(exit.cause) : undefined
        if (!(error instanceof ProviderError)) problems.push(`${how}: expected a ProviderError, got ${String(error)}`)
        else if (!error.message.includes(String(expect.error.message).slice(0, 40))) {
          problems.push(`${how}: the error does not carry the server's message: ${error.message}`)
        }
        continue
      }
      if (Exit.isFailure(exit)) {
        problems.push(`${how}: failed: ${Cause.pretty(exit.cause)}`)
        continue
      }
      for (const problem of await compare(events, expected(expect, bytes.toString("utf8"))))
        problems.push(`${how}: ${problem}`)
    } finally {
      server.close()
    }
  }
  return problems.length === 0 ? { ok: true } : { ok: false, detail: problems.join("; ") }
}

/**
 * The dispatcher's check (`scripts/conformance/index.ts`): {@link checkFixture} on a fixture it
 * has read, its detail split into one reason per line.
 */
export const check = async (fixture: {
  readonly dir: string
  readonly name: string
}): Promise<ReadonlyArray<string>> => {
  const result = await checkFixture(fixture.dir, fixture.name)
  return result.ok ? [] : (result.detail ?? "failed").split("; ")
}

/**
 * The fixture names of a corpus directory (every `NAME.sse` with its `NAME.expect.json`).
 */
export const fixtures = (dir: string): Array<string> => {
  const files = new Set(readdirSync(dir))
  return [...files]
    .filter((file) => file.endsWith(".sse") && files.has(file.replace(/\.sse$/, ".expect.json")))
    .map((file) => file.replace(/\.sse$/, ""))
    .sort()
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const dir = process.argv[2]
  if (dir === undefined) {
    console.error("usage: tsx scripts/conformance/openai.ts <corpus dir>")
    process.exit(2)
  }
  let passed = 0
  let failed = 0
  for (const name of fixtures(dir)) {
    const result = await checkFixture(dir, name)
    if (result.ok) passed++
    else {
      failed++
      console.log(`FAIL ${name}: ${result.detail}`)
    }
  }
  console.log(`${passed} passed, ${failed} failed`)
  process.exitCode = failed > 0 ? 1 : 0
}
