/**
 * The machinery the providers' SSE body readers share (`anthropic/sseReader.ts`,
 * `openai/SseReader.ts`): the pull, the batch of one network read, the deadline hand-over to the
 * stream's {@link PullDeadline.Watchdog}, closing, and the SSE line framing. Each provider's reader
 * extends {@link SseBody} with what a message means to it: its `event:` field, what a `data:`
 * payload becomes, and what the end of the body says.
 *
 * Pull-driven: the next network chunk is read when the consumer asks for more, and the events
 * of a whole network chunk go to the consumer as one batch, in the same tick. Framing as the SSE
 * spec and both SDKs read it: `\n`, `\r\n` or `\r` line ends, `data:` lines of one message joined
 * with `\n`; lines are read in place, so only a data payload becomes a string of its own.
 *
 * Hand-written rather than `effect/encoding/Sse` on a `Stream` of bytes: one pass per network read
 * with no per-event allocation beyond the parsed JSON. The bench rows "anthropic adapter: SSE
 * parser" (`bench/anthropic-adapter.ts`) and `openai N=1,000,000` (`bench/openai.ts`) measure it;
 * figures in `bench/README.md`.
 *
 * Private to the providers: not re-exported from the package.
 * @internal
 */
import { Cause, Effect, type Exit } from "effect"
import type * as Arr from "effect/Array"
import type { ProviderError } from "../../core/HarnessError.js"
import type * as StreamEvent from "../../core/StreamEvent.js"
import type * as PullDeadline from "../pullDeadline.js"
import * as NodeFetch from "./nodeFetch.js"

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

/** Where a reader's events go until the consumer takes them: `out` is handed on and replaced. */
export interface EventSink {
  out: Array<StreamEvent.ProviderEvent>
}

const streaming = { stream: true } as const

/**
 * The reader of one response body; `pull` is the stream's pull, `close` releases the body (and
 * aborts the request when the stream did not end cleanly). A subclass reads the messages:
 * {@link eventField}, {@link dispatch}, {@link lastLine}, {@link atEnd} and {@link readFailure}.
 */
export abstract class SseBody<E> {
  private readonly decoder = new TextDecoder()
  private rest = ""
  /** The `data:` lines of the message being read, joined with `\n`. */
  protected data: string | undefined = undefined
  protected failure: ProviderError | E | undefined = undefined
  protected ended = false
  private reading = false
  /** The consumer of the pull in progress; a pull its consumer gave up keeps its events for the next. */
  private waiter: ((effect: Effect.Effect<Batch, ProviderError | E | Cause.Done>) => void) | undefined = undefined

  constructor(
    private readonly body: Chunks,
    private readonly controller: AbortController,
    /** The events parsed and not yet handed on. */
    protected readonly sink: EventSink,
    /** The first-event and idle deadlines, when this stream enforces them (see `pullDeadline.ts`). */
    private readonly watchdog: PullDeadline.Watchdog<E> | undefined
  ) {}

  /** The `event:` field of the message being read: its value is `text` from `from` to `end`. */
  protected abstract eventField(text: string, from: number, end: number): void
  /** A blank line ended a message: reads it (the `data` and the event field) and resets it. */
  protected abstract dispatch(): void
  /** The body ended: `line` is what followed its last line end (maybe ""). */
  protected abstract lastLine(line: string): void
  /** The body ended without a failure so far: whether it ended as a turn ends, or was cut short. */
  protected abstract atEnd(): void
  /** What reading the body threw, as the provider's error. */
  protected abstract readFailure(thrown: unknown): ProviderError

  readonly pull: Effect.Effect<Batch, ProviderError | E | Cause.Done> = Effect.suspend(() => this.step())

  private step(): Effect.Effect<Batch, ProviderError | E | Cause.Done> {
    const out = this.sink.out
    if (out.length > 0) {
      this.sink.out = []
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
    // also when the pull that asked for these events was given up: they are the stream's first
    this.watchdog?.disarm(this.sink.out.length > 0)
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
          if (this.failure === undefined) this.atEnd()
          this.ended = true
          return this.wake()
        }
        this.parse(this.decoder.decode(chunk, streaming), false)
        if (this.sink.out.length > 0 || this.failure !== undefined) return this.wake()
        // only an incomplete message: read on (for a consumer that gave up, the next pull does)
        if (this.waiter !== undefined) this.readChunk()
      },
      (thrown: unknown) => {
        this.reading = false
        if (!this.ended) this.fail(this.readFailure(thrown))
        this.wake()
      }
    )
  }

  /** Reads the complete lines of `chunk` (after what was left of the last one); `last` at the end of the body. */
  protected parse(chunk: string, last: boolean): void {
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
        this.addData(text.slice(text.charCodeAt(start + 5) === 32 ? start + 6 : start + 5, end))
      } else if (text.startsWith("event:", start)) {
        this.eventField(text, text.charCodeAt(start + 6) === 32 ? start + 7 : start + 6, end)
      }
      start = end + 1
    }
    this.rest = text.slice(start)
    if (last) {
      const line = this.rest
      this.rest = ""
      this.lastLine(line)
    }
  }

  /** Adds one `data:` line's value to the message being read. */
  protected addData(value: string): void {
    this.data = this.data === undefined ? value : `${this.data}\n${value}`
  }

  /** The first failure ends the stream: later pulls get it, and the request is aborted. */
  protected fail(error: ProviderError): void {
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
