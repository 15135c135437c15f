/**
 * Reads the SSE body of a streaming Messages response: every network chunk is split into events,
 * each `data:` payload parsed and decoded (`StreamEvent.decodeWire`: validated, kept as it
 * arrived), and the whole chunk's events handed to the consumer as one batch, in the same tick.
 * Pull-driven: the next chunk is read when the consumer asks for more.
 *
 * Mirrors the SDK's SSE rules: `\n`, `\r\n` or `\r` line ends, `data:` lines joined with `\n`,
 * messages without an `event:` field and `ping` skipped.
 *
 * Hand-written rather than `effect/encoding/Sse` on a `Stream` of bytes: one pass per network
 * read with no per-event allocation beyond the parsed JSON. The bench row "anthropic adapter:
 * SSE parser" (`bench/anthropic-adapter.ts`, figures in `bench/README.md`) measures what the
 * library parser costs on the same bytes.
 *
 * Private to the provider: not re-exported from the package.
 * @internal
 */
import { Cause, Effect, type Exit } from "effect"
import type * as Arr from "effect/Array"
import type { ProviderError } from "../../core/HarnessError.js"
import * as StreamEvent from "../../core/StreamEvent.js"
import * as NodeFetch from "../http/nodeFetch.js"
import type * as PullDeadline from "../pullDeadline.js"
import { type ErrorContext, fromErrorEvent, fromSdkError, makeError } from "./errors.js"

/** The events of one network read. */
export type Batch = Arr.NonEmptyReadonlyArray<StreamEvent.ProviderEvent>

/**
 * The bytes of a response body, one network read at a time: `next` calls `onChunk` with the next
 * bytes (`undefined` at the end) or `onError`, maybe synchronously.
 */
export interface Chunks {
  readonly next: (onChunk: (chunk: Uint8Array | undefined) => void, onError: (error: unknown) => void) => void
  readonly cancel: () => void
}

/** The body of a response: read straight from Node when it came from our `node:http` fetch. */
export const chunksOf = (response: Response): Chunks => {
  const node = NodeFetch.takeNodeBody(response)
  if (node !== undefined) return node
  if (response.body === null) return { next: (onChunk) => onChunk(undefined), cancel: () => {} }
  const reader = response.body.getReader()
  return {
    next: (onChunk, onError) =>
      reader.read().then((result) => onChunk(result.done ? undefined : result.value), onError),
    cancel: () => {
      reader.cancel().catch(() => {})
    }
  }
}

/** What the reader knows of the response, to say what arrived when it was not an event stream. */
export interface ResponseInfo {
  readonly requestId: string | undefined
  readonly status: number
  readonly contentType: string | undefined
}

/** How many characters of a body that is not an event stream its error quotes. */
const HEAD_CHARS = 120

const streaming = { stream: true } as const

/** Why a body without `message_stop` ended: what arrived, when it was not an event stream at all. */
const endedWithoutStop = (info: ResponseInfo, sawEvent: boolean, head: string): string => {
  if (sawEvent) return "the stream ended without message_stop (the response was cut short)"
  const type = info.contentType === undefined ? "no content-type" : `content-type ${JSON.stringify(info.contentType)}`
  if (head.trim().length === 0) {
    return `the response (HTTP ${info.status}, ${type}) has an empty body, not an event stream; is the baseURL an Anthropic Messages API`
  }
  const quoted = JSON.stringify(head.length > HEAD_CHARS ? `${head.slice(0, HEAD_CHARS)}…` : head)
  return `the response (HTTP ${info.status}, ${type}) is not an event stream; it begins ${quoted}; is the baseURL an Anthropic Messages API`
}

/**
 * The reader of one response body; `pull` is the stream's pull. `close` releases the body (and
 * aborts the request when the stream did not end cleanly).
 */
export class BodyReader<E = never> {
  private readonly decoder = new TextDecoder()
  private rest = ""
  /** The `event:` field of the message being read: only whether there is one, and whether it is `ping`, matter. */
  private event: "ping" | "other" | undefined = undefined
  private data: string | undefined = undefined
  private buffer: Array<StreamEvent.ProviderEvent> = []
  private failure: ProviderError | E | undefined = undefined
  private ended = false
  private stopped = false
  private reading = false
  /** Whether any SSE message (with an `event:` field) was seen. */
  private sawEvent = false
  /** The body's first characters, kept until a message is seen (to describe a body that is not SSE). */
  private head = ""
  /** The consumer of the pull in progress; a pull its consumer gave up keeps its events for the next. */
  private waiter: ((effect: Effect.Effect<Batch, ProviderError | E | Cause.Done>) => void) | undefined = undefined

  constructor(
    private readonly body: Chunks,
    private readonly info: ResponseInfo,
    private readonly controller: AbortController,
    private readonly context: ErrorContext,
    private readonly now: () => number,
    /** The first-event and idle deadlines, when this stream enforces them (see `pullDeadline.ts`). */
    private readonly watchdog?: PullDeadline.Watchdog<E> | undefined
  ) {}

  readonly pull: Effect.Effect<Batch, ProviderError | E | Cause.Done> = Effect.suspend(() => this.step())

  private step(): Effect.Effect<Batch, ProviderError | E | Cause.Done> {
    if (this.buffer.length > 0) {
      const batch = this.buffer as unknown as Batch
      this.buffer = []
      return Effect.succeed(batch)
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
    // also when the pull that asked for these events was given up: they are the stream's first
    this.watchdog?.disarm(this.buffer.length > 0)
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
        if (chunk === undefined) return this.end()
        this.parse(this.decoder.decode(chunk, streaming), false)
        if (this.buffer.length > 0 || this.failure !== undefined) return this.wake()
        // only an incomplete event: read on (for a consumer that gave up, the next pull does)
        if (this.waiter !== undefined) this.readChunk()
      },
      (thrown: unknown) => {
        this.reading = false
        if (!this.ended) this.fail(fromSdkError(this.context, thrown, this.now()))
        this.wake()
      }
    )
  }

  /** The body ended: without `message_stop` that is a malformed response, saying what arrived. */
  private end(): void {
    this.parse(this.decoder.decode(), true)
    if (this.failure === undefined && !this.stopped) {
      this.fail(
        makeError(this.context, "InvalidResponse", endedWithoutStop(this.info, this.sawEvent, this.head), {
          requestId: this.info.requestId
        })
      )
    }
    this.ended = true
    this.wake()
  }

  private parse(chunk: string, last: boolean): void {
    if (!this.sawEvent && this.head.length <= HEAD_CHARS) this.head += chunk.slice(0, HEAD_CHARS + 1)
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
        this.event = end - from === 4 && text.startsWith("ping", from) ? "ping" : "other"
      }
      start = end + 1
    }
    this.rest = text.slice(start)
    if (last && this.rest.length > 0) {
      this.rest = ""
      this.dispatch()
    }
  }

  private dispatch(): void {
    const event = this.event
    const data = this.data
    this.event = undefined
    this.data = undefined
    if (event === undefined) return
    this.sawEvent = true
    if (event === "ping" || data === undefined || data.length === 0) return
    let raw: unknown
    try {
      raw = JSON.parse(data)
    } catch (thrown) {
      this.fail(fromSdkError(this.context, thrown, this.now()))
      return
    }
    if (StreamEvent.isValidTokenDelta(raw)) {
      this.buffer.push(raw)
      return
    }
    this.decoded(StreamEvent.decodeWire(raw))
  }

  private decoded(decoded: StreamEvent.Decoded): void {
    switch (decoded._tag) {
      case "Event":
        this.buffer.push(decoded.event)
        if (decoded.event.type === "message_stop") this.stopped = true
        return
      case "Skip":
        return
      case "Error":
        this.fail(fromErrorEvent(this.context, decoded.event, this.info.requestId))
        return
      case "Invalid":
        this.fail(makeError(this.context, "InvalidResponse", decoded.message))
        return
    }
  }

  private fail(error: ProviderError): void {
    if (this.failure !== undefined) return
    this.failure = error
    this.ended = true
    this.controller.abort()
  }

  close(): void {
    const complete = this.ended && this.failure === undefined
    this.ended = true
    if (!complete) {
      this.controller.abort()
      this.body.cancel()
    }
  }
}
