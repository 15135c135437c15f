/**
 * A local HTTP server that speaks the Chat Completions API from scripted replies, for tests that
 * run `OpenAI.layer` (the real `openai` SDK over real sockets) against it through `baseURL`.
 *
 * Each `POST .../chat/completions` takes the next scripted {@link Reply} (or the default one): a
 * JSON answer with any status and headers, SSE bytes written in chunks of a chosen size, a
 * connection dropped or stalled after some bytes, or no answer at all. Every request is recorded
 * (parsed body, headers), and for every request the server tells how it ended, so interruption
 * tests can assert that the client really closed it.
 *
 * @example
 * ```ts
 * const server = yield* OpenAIServer.make()
 * server.enqueue({ sse: OpenAIServer.sse(OpenAIServer.textChunks(["Hello ", "world"])) })
 * const layer = OpenAI.layer({ model: "gpt-test", apiKey: "sk-test", baseURL: server.url })
 * ```
 */
import * as Scripted from "./scriptedServer.js"

// replies (shared with the Anthropic server: `scriptedServer.ts`)

export type * from "./scriptedServer.js"

/** A running test server; its `url` ends in `/v1`. */
export type OpenAIServer = Scripted.ScriptedServer

// rendering

/** A chunk's fields besides `choices`. */
export interface ChunkOptions {
  readonly id?: string | undefined
  readonly model?: string | undefined
}

/** The fields of every chunk besides `choices` and `usage`. */
const chunkHeader = (options: ChunkOptions) => ({
  id: options.id ?? "chatcmpl-test",
  object: "chat.completion.chunk",
  created: 1_700_000_000,
  model: options.model ?? "gpt-test"
})

/** A `chat.completion.chunk` with one choice. */
export const chunk = (
  delta: Record<string, unknown>,
  finishReason: string | null = null,
  options: ChunkOptions = {}
): Record<string, unknown> => ({
  ...chunkHeader(options),
  choices: [{ index: 0, delta, logprobs: null, finish_reason: finishReason }]
})

/** The usage-only final chunk (`choices: []`), as `stream_options.include_usage` makes it. */
export const usageChunk = (
  usage: { readonly prompt: number; readonly completion: number; readonly cached?: number },
  options: ChunkOptions = {}
): Record<string, unknown> => ({
  ...chunkHeader(options),
  choices: [],
  usage: {
    prompt_tokens: usage.prompt,
    completion_tokens: usage.completion,
    total_tokens: usage.prompt + usage.completion,
    prompt_tokens_details: { cached_tokens: usage.cached ?? 0 }
  }
})

/** Renders payloads as SSE (`data: <json>\n\n` each), then `data: [DONE]` unless `done` is false. */
export const sse = (payloads: ReadonlyArray<unknown>, done = true): string => {
  let out = ""
  for (const payload of payloads) out += `data: ${JSON.stringify(payload)}\n\n`
  return done ? `${out}data: [DONE]\n\n` : out
}

/** A text answer: a role chunk, one content chunk per piece, the finish chunk, a usage chunk. */
export const textChunks = (
  pieces: ReadonlyArray<string>,
  options: ChunkOptions & {
    readonly finish?: string | undefined
    readonly usage?: { readonly prompt: number; readonly completion: number; readonly cached?: number } | undefined
  } = {}
): Array<Record<string, unknown>> => [
  chunk({ role: "assistant", content: "" }, null, options),
  ...pieces.map((content) => chunk({ content }, null, options)),
  chunk({}, options.finish ?? "stop", options),
  usageChunk(options.usage ?? { prompt: 12, completion: pieces.length }, options)
]

/** A tool-call answer: each call's header, then its arguments in the given pieces; finish `tool_calls`. */
export const toolCallChunks = (
  calls: ReadonlyArray<{ readonly id: string; readonly name: string; readonly pieces: ReadonlyArray<string> }>,
  options: ChunkOptions & { readonly usage?: { readonly prompt: number; readonly completion: number } } = {}
): Array<Record<string, unknown>> => [
  chunk({ role: "assistant", content: null }, null, options),
  ...calls.flatMap((call, index) => [
    chunk(
      { tool_calls: [{ index, id: call.id, type: "function", function: { name: call.name, arguments: "" } }] },
      null,
      options
    ),
    ...call.pieces.map((piece) => chunk({ tool_calls: [{ index, function: { arguments: piece } }] }, null, options))
  ]),
  chunk({}, "tool_calls", options),
  usageChunk(options.usage ?? { prompt: 20, completion: 10 }, options)
]

/** An error reply in OpenAI's shape: `{ error: { message, type, param, code } }`. */
export const errorReply = (
  status: number,
  type: string,
  message: string,
  options: { readonly code?: string | null; readonly headers?: Readonly<Record<string, string>> } = {}
): Scripted.JsonReply => ({
  status,
  headers: { "x-request-id": `req_test_${status}`, ...options.headers },
  json: { error: { message, type, param: null, code: options.code ?? null } }
})

/** The byte offset just after the `n`-th SSE message of `text` (1-based). */
export const bytesThroughMessage = (text: string, n: number): number => {
  let at = 0
  for (let i = 0; i < n; i++) {
    const end = text.indexOf("\n\n", at)
    if (end === -1) return Buffer.byteLength(text)
    at = end + 2
  }
  return Buffer.byteLength(text.slice(0, at))
}

// server

/**
 * Starts a server on 127.0.0.1 at a free port (`start`), or as a scoped resource closed on release
 * (`make`). `POST .../chat/completions` takes the scripted replies; request ids are in `x-request-id`.
 */
export const { start, make } = Scripted.forApi({
  requestIdHeader: "x-request-id",
  scripted: (method, url) => method === "POST" && url?.endsWith("/chat/completions") === true,
  basePath: "/v1",
  defaultReply: errorReply(500, "server_error", "the test server has no scripted reply left")
})
