/**
 * The error of the event log, in a module of its own so the log's private modules can raise it.
 * @internal
 */
import { Schema } from "effect"

/**
 * The entries a client asked for are no longer kept: the log keeps the newest entries only.
 * `oldest` is the id of the oldest one still kept.
 * @since 0.2.0
 */
export class EventsExpired extends Schema.TaggedError<EventsExpired>()(
  "EventsExpired",
  { message: Schema.String, after: Schema.Number, oldest: Schema.Number },
  { httpApiStatus: 410 }
) {
  /** Never retryable: the events are gone; read the session's history instead. */
  get isRetryable(): boolean {
    return false
  }
}
