/**
 * Reads the SSE body of a streaming Chat Completions response itself: each `data:` payload
 * parsed, validated ({@link Chunk.validate}) and translated ({@link ChunkTranslator}). The pull,
 * the batching of one network read, the deadlines and the line framing are {@link SseBody}'s
 * (`http/sseBody.ts`, shared with the Anthropic provider). The bench row `openai N=1,000,000`
 * measures it.
 *
 * As the `openai` SDK reads it: comment lines (`: OPENROUTER PROCESSING`) and other fields
 * skipped, a last `data:` line without its line end still counts, `data: [DONE]` ends the turn. A payload with an `error` field (with or without
 * `event: error`), or vLLM's `{"object": "error"}`, is a typed error; so is a payload that is not
 * JSON or not a valid chunk, and a body that ends before `[DONE]` or a `finish_reason`.
 * @internal
 */
import type { ProviderError } from "../../core/HarnessError.js"
import { type Chunks, SseBody } from "../http/sseBody.js"
import type * as PullDeadline from "../pullDeadline.js"
import * as Chunk from "./Chunk.js"
import * as Errors from "./errors.js"
import type { ChunkTranslator } from "./Translator.js"

/**
 * One streaming response, read as events.
 * @internal
 */
export class SseReader<E = never> extends SseBody<E> {
  /** Whether the message being read has `event: error`. */
  private errorEvent = false
  private done = false

  constructor(
    body: Chunks,
    private readonly translator: ChunkTranslator,
    private readonly requestId: string | undefined,
    controller: AbortController,
    private readonly context: Errors.ErrorContext,
    private readonly now: () => number,
    watchdog?: PullDeadline.Watchdog<E> | undefined
  ) {
    super(body, controller, translator, watchdog)
  }

  protected eventField(text: string, from: number, end: number): void {
    this.errorEvent = end - from === 5 && text.startsWith("error", from)
  }

  /** A last `data:` line without its line end still counts; the message ends with the body. */
  protected lastLine(line: string): void {
    if (line.startsWith("data:")) this.addData(line.slice(line.charCodeAt(5) === 32 ? 6 : 5))
    this.dispatch()
  }

  /** The body ended: a turn that got its `finish_reason` ends as with `[DONE]`; one that did not was cut short. */
  protected atEnd(): void {
    if (this.done) return
    if (this.translator.finishReason !== undefined) {
      this.translator.end()
      this.done = true
      return
    }
    this.fail(
      Errors.make(
        this.context,
        "InvalidResponse",
        "the stream ended without [DONE] or a finish_reason (the response was cut short)",
        { requestId: this.requestId }
      )
    )
  }

  protected readFailure(thrown: unknown): ProviderError {
    return Errors.fromThrown(this.context, thrown, this.now())
  }

  protected dispatch(): void {
    const data = this.data
    const errorEvent = this.errorEvent
    this.data = undefined
    this.errorEvent = false
    if (data === undefined || data.length === 0 || this.done) return
    if (data === "[DONE]") {
      this.translator.end()
      this.done = true
      return
    }
    const failure = this.apply(data, errorEvent)
    if (failure !== undefined) this.fail(failure)
  }

  /** Parses, checks and translates one payload; returns why it is a failure, if it is one. */
  private apply(data: string, errorEvent: boolean): ProviderError | undefined {
    let raw: unknown
    try {
      raw = JSON.parse(data)
    } catch (thrown) {
      if (errorEvent) return Errors.fromErrorPayload(this.context, { message: data }, this.requestId)
      return Errors.make(this.context, "InvalidResponse", `a chunk is not valid JSON (${(thrown as Error).message})`, {
        requestId: this.requestId
      })
    }
    const error = Errors.errorPayloadOf(raw, errorEvent)
    if (error !== undefined) return Errors.fromErrorPayload(this.context, error, this.requestId)
    if (!Chunk.isChunk(raw)) {
      const problem = Chunk.decodeChunkStrict(raw) ?? "not a chat.completion.chunk"
      return Errors.make(this.context, "InvalidResponse", `a malformed chunk: ${problem}`, {
        requestId: this.requestId
      })
    }
    this.translator.chunk(raw)
    const failure = this.translator.failure
    return failure === undefined
      ? undefined
      : Errors.make(this.context, "InvalidResponse", failure, { requestId: this.requestId })
  }
}
