/**
 * The errors of the session API, each a JSON body `{"_tag": ..., "message": ..., ...}` with its
 * own HTTP status. `message` says what to do; `field` names the part of the request at fault
 * (`payload.prompt`, `headers.last-event-id`, `body`, ...).
 *
 * | tag | status | when |
 * | --- | --- | --- |
 * | `BadRequest` | 400 | a path, query, header or body field is missing or wrong (`field`, every problem in `issues`) |
 * | `Unauthorized` | 401 | no token, or one that is not configured |
 * | `SessionNotFound` | 404 | no such session for this tenant (another tenant's session is not found either) |
 * | `AskInProgress` | 409 | the session is running an ask (`ask_id`); interrupt it or wait for its `ask_end` |
| `ApprovalNotPending` | 409 | no tool call of the session waits for approval under `tool_use_id` (never did, was decided, or its ask ended) |
 * | `EventsExpired` | 410 | the events after `Last-Event-ID` are no longer kept |
 * | `PayloadTooLarge` | 413 | a body over the limit (`limit` bytes) |
 * | `UnsupportedMediaType` | 415 | a `content-type` the endpoint does not take |
 * | `BadFile` | 422 | an upload that is empty or that DuckDB cannot read (`reason`) |
 * | `TooManyRequests` | 429 | the tenant's limit on concurrent asks or on sessions (`limit`) |
 *
 * @example
 * ```ts
 * const response = await fetch(`${url}/v1/sessions/nope`, { headers: { authorization: `Bearer ${token}` } })
 * // 404 {"_tag":"SessionNotFound","session_id":"nope","message":"No session nope: ..."}
 * ```
 * @since 0.2.0
 */
import { Schema } from "effect"

/**
 * One problem with a request: where, and what.
 * @since 0.2.0
 */
export const Issue = Schema.Struct({ field: Schema.String, message: Schema.String })
/** @since 0.2.0 */
export type Issue = typeof Issue.Type

/**
 * A request field is missing or wrong. `field` is the first, `issues` all of them.
 * @since 0.2.0
 */
export class BadRequest extends Schema.TaggedError<BadRequest>()(
  "BadRequest",
  { message: Schema.String, field: Schema.String, issues: Schema.Array(Issue) },
  { httpApiStatus: 400 }
) {}

/**
 * No token, or a token that is not configured.
 * @since 0.2.0
 */
export class Unauthorized extends Schema.TaggedError<Unauthorized>()(
  "Unauthorized",
  { message: Schema.String },
  { httpApiStatus: 401 }
) {}

/**
 * No such session for this tenant.
 * @since 0.2.0
 */
export class SessionNotFound extends Schema.TaggedError<SessionNotFound>()(
  "SessionNotFound",
  { message: Schema.String, session_id: Schema.String },
  { httpApiStatus: 404 }
) {}

/**
 * The session is running an ask.
 * @since 0.2.0
 */
export class AskInProgress extends Schema.TaggedError<AskInProgress>()(
  "AskInProgress",
  { message: Schema.String, ask_id: Schema.String },
  { httpApiStatus: 409 }
) {}

/**
 * No tool call of the session waits for approval under `tool_use_id`: it never did, it was
 * decided already, or its ask ended (interrupted, timed out) while it waited.
 * @since 0.2.0
 */
export class ApprovalNotPending extends Schema.TaggedError<ApprovalNotPending>()(
  "ApprovalNotPending",
  { message: Schema.String, tool_use_id: Schema.String },
  { httpApiStatus: 409 }
) {}

/**
 * A body over the limit.
 * @since 0.2.0
 */
export class PayloadTooLarge extends Schema.TaggedError<PayloadTooLarge>()(
  "PayloadTooLarge",
  { message: Schema.String, field: Schema.String, limit: Schema.Number },
  { httpApiStatus: 413 }
) {}

/**
 * A content type the endpoint does not take.
 * @since 0.2.0
 */
export class UnsupportedMediaType extends Schema.TaggedError<UnsupportedMediaType>()(
  "UnsupportedMediaType",
  { message: Schema.String, field: Schema.String },
  { httpApiStatus: 415 }
) {}

/**
 * An upload that is empty or cannot be read as the format it claims.
 * @since 0.2.0
 */
export class BadFile extends Schema.TaggedError<BadFile>()(
  "BadFile",
  { message: Schema.String, field: Schema.String, reason: Schema.String },
  { httpApiStatus: 422 }
) {}

/**
 * The tenant's limit on concurrent asks or on sessions.
 * @since 0.2.0
 */
export class TooManyRequests extends Schema.TaggedError<TooManyRequests>()(
  "TooManyRequests",
  { message: Schema.String, limit: Schema.Number },
  { httpApiStatus: 429 }
) {}

/**
 * The server failed; the message says nothing about why (the server's log does).
 * @since 0.2.0
 */
export class InternalError extends Schema.TaggedError<InternalError>()(
  "InternalError",
  { message: Schema.String },
  { httpApiStatus: 500 }
) {}
