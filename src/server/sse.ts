/**
 * Server-sent events on the wire: one `id:`/`event:`/`data:` record per log entry, written a
 * chunk of entries at a time, with keep-alive comments while nothing happens.
 * @internal
 */
import type { Duration } from "effect"
import { Stream } from "effect"
import { HttpServerResponse } from "effect/http"
import type * as EventLog from "./EventLog.js"

const encoder = new TextEncoder()
const keepAliveComment = encoder.encode(": keepalive\n\n")
/** Written first: Node sends the response headers with the first write, and a client waits for them. */
const openComment = encoder.encode(": open\n\n")

/**
 * One SSE record. `JSON.stringify` escapes line breaks, so `data` is always one line; the event
 * types are plain words.
 * @internal
 */
export const record = (id: number | undefined, event: string, data: unknown): string =>
  `${id === undefined ? "" : `id: ${id}\n`}event: ${event}\ndata: ${JSON.stringify(data)}\n\n`

/** The error event a stream ends with when it fails (e.g. a reader fell behind the log). */
const errorRecord = (error: unknown): string => {
  const tagged = error as { readonly _tag?: string; readonly message?: string }
  return record(undefined, "error", {
    type: "error",
    error: { _tag: tagged._tag ?? "InternalError", message: tagged.message ?? "The event stream failed." }
  })
}

/**
 * Headers of every event stream: no caching, no proxy buffering.
 * @internal
 */
export const headers = { "cache-control": "no-cache", "x-accel-buffering": "no" } as const

/**
 * What {@link response} writes: a log entry, or an event without an id (it leaves the client's
 * `Last-Event-ID` as it was).
 * @internal
 */
export interface Outgoing {
  readonly id: number | undefined
  readonly event: { readonly type: string; readonly [field: string]: unknown }
}

/**
 * A `text/event-stream` response of log entries; a failure becomes a final `error` event.
 * @internal
 */
export const response = <E>(
  entries: Stream.Stream<EventLog.Entry | Outgoing, E>,
  keepAlive: Duration.Duration | undefined
): HttpServerResponse.HttpServerResponse => {
  const bytes = entries.pipe(
    Stream.mapArray((chunk) => {
      let text = ""
      for (const entry of chunk) text += record(entry.id, entry.event.type, entry.event)
      return [encoder.encode(text)] as const
    }),
    Stream.catch((error) => Stream.succeed(encoder.encode(errorRecord(error))))
  )
  const body =
    keepAlive === undefined
      ? bytes
      : Stream.merge(
          bytes,
          Stream.tick(keepAlive).pipe(
            Stream.drop(1),
            Stream.map(() => keepAliveComment)
          ),
          { haltStrategy: "left" }
        )
  return HttpServerResponse.stream(Stream.concat(Stream.succeed(openComment), body), {
    contentType: "text/event-stream",
    headers
  })
}

/**
 * Bytes of an SSE stream as text, for streams that are not log entries.
 * @internal
 */
export const encode = (text: string): Uint8Array => encoder.encode(text)
