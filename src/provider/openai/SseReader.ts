/**
 * Reads the SSE body of a streaming Chat Completions response itself: every network chunk is
 * split into messages, each `data:` payload parsed, validated ({@link Chunk.validate}) and
 * translated ({@link ChunkTranslator}), and the whole network chunk's events handed to the consumer
 * as one batch, in the same tick. Pull-driven: the next network chunk is read when the consumer
 * asks for more. The bench row `openai N=1,000,000` measures it.
 *
 * Framing as the SSE spec and the `openai` SDK read it: `\n`, `\r\n` or `\r` line ends, `data:`
 * lines of one message joined with `\n`, comment lines (`: OPENROUTER PROCESSING`) and other
 * fields skipped, `data: [DONE]` ends the turn. A payload with an `error` field (with or without
 * `event: error`), or vLLM's `{"object": "error"}`, is a typed error; so is a payload that is not
 * JSON or not a valid chunk, and a body that ends before `[DONE]` or a `finish_reason`.
 *
 * Copied in idea from the Anthropic provider's body reader (same pull, batching and deadline
 * hand-over); the two differ in framing and in what a payload becomes.
 * @internal
 */
import { Cause, Effect, type Exit } from "effect"
import type * as Arr from "effect/Array"
import type { ProviderError } from "../../core/HarnessError.js"
import type * as StreamEvent from "../../core/StreamEvent.js"
import * as NodeFetch from "../http/nodeFetch.js"
import type * as PullDeadline from "../pullDeadline.js"
import * as Chunk from "./Chunk.js"
import * as Errors from "./errors.js"
import type { ChunkTranslator } from "./Translator.js"

type Batch = Arr.NonEmptyReadonlyArray<StreamEvent.ProviderEvent>

/**
 * The bytes of a response body, one network read at a time: `next` calls `onChunk` with the next
 * bytes (`undefined` at the end) or `onError`, maybe synchronously.
 * @internal
 */
export interface Bytes {
  readonly next: (onChunk: (chunk: Uint8Array | undefined) => void, onError: (error: unknown) => void) => void
  readonly cancel: () => void
}

/**
 * The body of a response: read straight from Node when it came from the `node:http` fetch.
 * @internal
 */
export const bytesOf = (response: Response): Bytes => {
  const node = NodeFetch.takeNodeBody(response)
  if (node !== undefined) return node
  const reader = response.body!.getReader()
  return {
    next: (onChunk, onError) =>
      reader.read().then((result) => onChunk(result.done ? undefined : result.value), onError),
    cancel: () => {
      reader.cancel().catch(() => {})
    }
  }
}

const streaming = { stream: true } as const

/**
 * One streaming response, read as events.
 * @internal
 */
export class SseReader<E = never> {
  private readonly decoder = new TextDecoder()
  private rest = ""
  /** Whether the message being read has `event: error`. */
  private errorEvent = false
  private data: string | undefined = undefined
  private failure: ProviderError | E | undefined = undefined
  private ended = false
  private done = false
  private reading = false
  /** The consumer of the pull in progress; a pull its consumer gave up keeps its events for the next. */
  private waiter: ((effect: Effect.Effect<Batch, ProviderError | E | Cause.Done>) => void) | undefined = undefined

  constructor(
    private readonly body: Bytes,
    private readonly translator: ChunkTranslator,
    private readonly requestId: string | undefined,
    private readonly controller: AbortController,
    private readonly context: Errors.ErrorContext,
    private readonly now: () => number,
    /** The first-event and idle deadlines, when this stream enforces them (see `pullDeadline.ts`). */
    private readonly watchdog?: PullDeadline.Watchdog<E> | undefined
  ) {}

  readonly pull: Effect.Effect<Batch, ProviderError | E | Cause.Done> = Effect.suspend(() => this.step())

  private step(): Effect.Effect<Batch, ProviderError | E | Cause.Done> {
    const out = this.translator.out
    if (out.length > 0) {
      this.translator.out = []
      return Effect.succeed(out as unknown as Batch)
    }
    if (this.watchdog?.expired !== undefined) return this.watchdog.expired
    if (this.failure !== undefined) return Effect.fail(this.failure)
    if (this.ended) return Cause.done()
    return this.wait
  }

  private readonly wait = Effect.callback<Batch, ProviderError | E | Cause.Done>((resume) => {
    this.waiter = resume
    if (!this.reading) this.readChunk()
    if (this.waiter === undefined) return
    // no bytes at hand: the pull waits for the network, under its deadline
    this.watchdog?.handOver(this.expire)
    return this.giveUp
  })

  private readonly giveUp = Effect.sync(() => {
    this.waiter = undefined
    this.watchdog?.disarm(false)
  })

  /** The pull outwaited its deadline: the response is closed, and this pull and every later one get the timeout. */
  private readonly expire = (timeout: Exit.Exit<never, E>) => {
    this.ended = true
    this.controller.abort()
    this.body.cancel()
    const waiter = this.waiter
    this.waiter = undefined
    if (waiter !== undefined) waiter(timeout)
  }

  /** Hands what the last read produced to the waiting consumer, if any. */
  private wake(): void {
    this.watchdog?.disarm(this.translator.out.length > 0)
    const waiter = this.waiter
    if (waiter === undefined) return
    this.waiter = undefined
    waiter(this.step())
  }

  private readChunk(): void {
    this.reading = true
    this.body.next(
      (chunk) => {
        this.reading = false
        if (this.ended) return this.wake()
        if (chunk === undefined) {
          this.parse(this.decoder.decode(), true)
          this.atEnd()
          this.ended = true
          return this.wake()
        }
        this.parse(this.decoder.decode(chunk, streaming), false)
        if (this.translator.out.length > 0 || this.failure !== undefined) return this.wake()
        // only an incomplete message: read on (for a consumer that gave up, the next pull does)
        if (this.waiter !== undefined) this.readChunk()
      },
      (thrown: unknown) => {
        this.reading = false
        if (!this.ended) this.fail(Errors.fromThrown(this.context, thrown, this.now()))
        this.wake()
      }
    )
  }

  /** The body ended: a turn that got its `finish_reason` ends as with `[DONE]`; one that did not was cut short. */
  private atEnd(): void {
    if (this.failure !== undefined || this.done) return
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

  private parse(chunk: string, last: boolean): void {
    let text = this.rest.length > 0 ? this.rest + chunk : chunk
    if (text.includes("\r")) {
      // keep a trailing \r: it may be the first half of a \r\n
      const keep = !last && text.endsWith("\r")
      text = (keep ? text.slice(0, -1) : text).replace(/\r\n?/g, "\n") + (keep ? "\r" : "")
    }
    let start = 0
    while (this.failure === undefined) {
      const end = text.indexOf("\n", start)
      if (end === -1) break
      // read in place: only a data payload becomes a string of its own
      if (end === start) this.dispatch()
      else if (text.startsWith("data:", start)) {
        const value = text.slice(text.charCodeAt(start + 5) === 32 ? start + 6 : start + 5, end)
        this.data = this.data === undefined ? value : `${this.data}\n${value}`
      } else if (text.startsWith("event:", start)) {
        const from = text.charCodeAt(start + 6) === 32 ? start + 7 : start + 6
        this.errorEvent = end - from === 5 && text.startsWith("error", from)
      }
      start = end + 1
    }
    this.rest = text.slice(start)
    if (last && this.rest.length > 0) {
      const line = this.rest
      this.rest = ""
      // a last line without its line end still counts
      if (line.startsWith("data:")) {
        const value = line.slice(line.charCodeAt(5) === 32 ? 6 : 5)
        this.data = this.data === undefined ? value : `${this.data}\n${value}`
      }
    }
    if (last) this.dispatch()
  }

  private dispatch(): void {
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

  private fail(error: ProviderError): void {
    if (this.failure !== undefined) return
    this.failure = error
    this.ended = true
    this.controller.abort()
  }

  /** Closes the response: a body not read to its end is aborted (the socket is closed). */
  close(): void {
    const complete = this.ended && this.failure === undefined
    this.ended = true
    if (!complete) {
      this.controller.abort()
      this.body.cancel()
    }
  }
}
