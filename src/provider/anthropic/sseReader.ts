/**
 * Reads the SSE body of a streaming Messages response: each `data:` payload parsed and decoded
 * (`StreamEvent.decodeWire`: validated, kept as it arrived). The pull, the batching of one
 * network read, the deadlines and the line framing are {@link SseBody}'s (`http/sseBody.ts`).
 *
 * Mirrors the SDK's SSE rules: messages without an `event:` field and `ping` skipped; a body that
 * ends without `message_stop` is an `InvalidResponse` that says what arrived.
 *
 * The bench row "anthropic adapter: SSE parser" (`bench/anthropic-adapter.ts`, figures in
 * `bench/README.md`) measures what the library parser costs on the same bytes.
 *
 * Private to the provider: not re-exported from the package.
 * @internal
 */
import type { ProviderError } from "../../core/HarnessError.js"
import * as StreamEvent from "../../core/StreamEvent.js"
import { type Chunks, SseBody } from "../http/sseBody.js"
import type * as PullDeadline from "../pullDeadline.js"
import { type ErrorContext, fromErrorEvent, fromSdkError, makeError } from "./errors.js"

/** What the reader knows of the response, to say what arrived when it was not an event stream. */
export interface ResponseInfo {
  readonly requestId: string | undefined
  readonly status: number
  readonly contentType: string | undefined
}

/** How many characters of a body that is not an event stream its error quotes. */
const HEAD_CHARS = 120

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
export class BodyReader<E = never> extends SseBody<E> {
  /** The `event:` field of the message being read: only whether there is one, and whether it is `ping`, matter. */
  private event: "ping" | "other" | undefined = undefined
  private stopped = false
  /** Whether any SSE message (with an `event:` field) was seen. */
  private sawEvent = false
  /** The body's first characters, kept until a message is seen (to describe a body that is not SSE). */
  private head = ""

  constructor(
    body: Chunks,
    private readonly info: ResponseInfo,
    controller: AbortController,
    private readonly context: ErrorContext,
    private readonly now: () => number,
    watchdog?: PullDeadline.Watchdog<E> | undefined
  ) {
    super(body, controller, { out: [] }, watchdog)
  }

  protected override parse(chunk: string, last: boolean): void {
    if (!this.sawEvent && this.head.length <= HEAD_CHARS) this.head += chunk.slice(0, HEAD_CHARS + 1)
    super.parse(chunk, last)
  }

  protected eventField(text: string, from: number, end: number): void {
    this.event = end - from === 4 && text.startsWith("ping", from) ? "ping" : "other"
  }

  /** A last line without its line end ends the message (its own content is not read). */
  protected lastLine(line: string): void {
    if (line.length > 0) this.dispatch()
  }

  /** The body ended: without `message_stop` that is a malformed response, saying what arrived. */
  protected atEnd(): void {
    if (this.stopped) return
    this.fail(
      makeError(this.context, "InvalidResponse", endedWithoutStop(this.info, this.sawEvent, this.head), {
        requestId: this.info.requestId
      })
    )
  }

  protected readFailure(thrown: unknown): ProviderError {
    return fromSdkError(this.context, thrown, this.now())
  }

  protected dispatch(): void {
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
      this.sink.out.push(raw)
      return
    }
    this.decoded(StreamEvent.decodeWire(raw))
  }

  private decoded(decoded: StreamEvent.Decoded): void {
    switch (decoded._tag) {
      case "Event":
        this.sink.out.push(decoded.event)
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
}
