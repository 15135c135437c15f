/**
 * The HTTP API of a cluster member (`Cluster.layerHttp`), as an effect `HttpApi`: the session
 * routes of `data-harness/server` that a cluster can route to a session's owner, with the same
 * paths, tokens, JSON error bodies and event framing. A typed client:
 * `HttpApiClient.make(ClusterHttpApi.Api, { baseUrl })`.
 *
 * | method | path | what |
 * | --- | --- | --- |
 * | POST | `/v1/sessions` | create a session (`id` optional); 201 `{ id }` |
 * | PUT | `/v1/sessions/{id}/data/{name}` | put a JSON value (`application/json` body) as handle `name`; 201 `{ name }` |
 * | POST | `/v1/sessions/{id}/asks` | ask (`prompt`, `ask_id` optional); the ask's events as `text/event-stream` |
 * | POST | `/v1/sessions/{id}/interrupt` | interrupt the running ask on its runner |
 * | GET | `/v1/sessions/{id}/history` | the conversation, usage, and the runner that holds the session |
 * | GET | `/v1/sessions/{id}/approvals` | the tool calls waiting for approval |
 * | POST | `/v1/sessions/{id}/approvals/{tool_use_id}` | approve or deny one; with no ask running, starts the ask that resumes it |
 * | GET | `/v1/sessions/{id}/asks/{ask_id}/events` | an ask's events after `Last-Event-ID`: stored, then live, then `ask_end` |
 *
 * @example
 * ```ts
 * import { HttpApiClient } from "effect/http-api"
 * import { ClusterHttpApi } from "data-harness/cluster"
 * const client = HttpApiClient.make(ClusterHttpApi.Api, { baseUrl: "http://127.0.0.1:8787" })
 * ```
 * @since 0.2.0
 */
import { Schema } from "effect"
import { HttpApi, HttpApiEndpoint, HttpApiGroup, HttpApiSchema } from "effect/http-api"
import * as Message from "../core/Message.js"
import { ApprovalNotPending, BadFile, BadRequest, SessionNotFound } from "../server/ApiError.js"
import { AskUsage } from "../server/ServerEvent.js"
import { ApprovalDecision, ApprovalInfo, Authentication, InvalidInput, SseEvent } from "../server/SessionApi.js"
import { SessionUnavailable } from "./SessionEntity.js"

/**
 * `POST /v1/sessions` with an `id` the tenant already has.
 * @since 0.2.0
 */
export class SessionExists extends Schema.TaggedError<SessionExists>()(
  "SessionExists",
  { message: Schema.String, session_id: Schema.String },
  { httpApiStatus: 409 }
) {}

/**
 * The cluster could not serve the call (no runner answered in time, a full mailbox, a shard
 * without a runner, the database unreachable): `reason` says which. Retry after a while.
 * @since 0.2.0
 */
export const Unavailable = SessionUnavailable.pipe(HttpApiSchema.status(503))

/** A non-negative integer written in decimal, as SSE ids carry it. */
const EventId = Schema.String.check(
  Schema.makeFilter((text: string) => /^\d{1,15}$/.test(text) || "expected an event id: a whole number, 0 or more")
)

/** A prompt with something besides whitespace in it. */
const Prompt = Schema.String.check(
  Schema.makeFilter((text: string) => /\S/.test(text) || "the prompt is empty or whitespace only; ask with some text")
)

/** An ask id as the cluster takes it. */
const AskId = Schema.String.check(
  Schema.makeFilter(
    (text: string) => /^[A-Za-z0-9_-]{1,128}$/.test(text) || "expected 1-128 letters, digits, `_` or `-`"
  )
)

const sessionId = { id: Schema.String }

/**
 * `GET .../asks/{ask_id}/events` with an ask id the session has no log of (never asked, or
 * dropped by the store's retention).
 * @since 0.2.0
 */
export class AskNotFound extends Schema.TaggedError<AskNotFound>()(
  "AskNotFound",
  { message: Schema.String, ask_id: Schema.String },
  { httpApiStatus: 404 }
) {}

/** What a call routed through the cluster can fail with (any route: every call goes the same way). */
const errors = [BadRequest, SessionNotFound, SessionExists, BadFile, Unavailable]

/**
 * The session endpoints of a cluster member.
 * @since 0.2.0
 */
export class Sessions extends HttpApiGroup.make("sessions")
  .add(
    HttpApiEndpoint.post("create", "/v1/sessions", {
      payload: Schema.Struct({ id: Schema.optionalKey(Schema.String) }),
      success: Schema.Struct({ id: Schema.String }).pipe(HttpApiSchema.status(201)),
      error: errors
    }),
    HttpApiEndpoint.put("put", "/v1/sessions/:id/data/:name", {
      params: { id: Schema.String, name: Schema.String },
      query: {
        overwrite: Schema.optionalKey(Schema.Literals(["true", "false"])),
        description: Schema.optionalKey(Schema.String)
      },
      payload: Schema.Json,
      success: Schema.Struct({ name: Schema.String }).pipe(HttpApiSchema.status(201)),
      error: errors
    }),
    HttpApiEndpoint.post("ask", "/v1/sessions/:id/asks", {
      params: sessionId,
      headers: { "last-event-id": Schema.optionalKey(EventId) },
      payload: Schema.Struct({ prompt: Prompt, ask_id: Schema.optionalKey(AskId) }),
      success: HttpApiSchema.StreamSse({ events: SseEvent }),
      error: errors
    }),
    HttpApiEndpoint.post("interrupt", "/v1/sessions/:id/interrupt", {
      params: sessionId,
      success: Schema.Struct({ interrupted: Schema.Boolean, ask_id: Schema.NullOr(Schema.String) }),
      error: errors
    }),
    HttpApiEndpoint.get("history", "/v1/sessions/:id/history", {
      params: sessionId,
      success: Schema.Struct({
        messages: Message.History,
        usage: AskUsage,
        /** The runner that holds the session. */
        runner: Schema.String,
        running_ask: Schema.NullOr(Schema.String)
      }),
      error: errors
    }),
    HttpApiEndpoint.get("approvals", "/v1/sessions/:id/approvals", {
      params: sessionId,
      success: Schema.Struct({ approvals: Schema.Array(ApprovalInfo) }),
      error: errors
    }),
    HttpApiEndpoint.post("decide", "/v1/sessions/:id/approvals/:tool_use_id", {
      params: { id: Schema.String, tool_use_id: Schema.String },
      payload: ApprovalDecision,
      success: Schema.Struct({
        tool_use_id: Schema.String,
        decision: Schema.Literals(["approve", "deny"]),
        /** The ask that goes on with the decision: the running one, or the one it started. */
        ask_id: Schema.String
      }),
      error: [...errors, ApprovalNotPending]
    }),
    HttpApiEndpoint.get("events", "/v1/sessions/:id/asks/:ask_id/events", {
      params: { id: Schema.String, ask_id: Schema.String },
      headers: { "last-event-id": Schema.optionalKey(EventId) },
      query: { after: Schema.optionalKey(EventId) },
      success: HttpApiSchema.StreamSse({ events: SseEvent }),
      error: [...errors, AskNotFound]
    })
  )
  .middleware(InvalidInput)
  .middleware(Authentication)
  .annotate(HttpApi.ParseOptions, { errors: "all" })
  .annotate(HttpApi.PayloadParseOptions, { errors: "all", onExcessProperty: "error" }) {}

/**
 * The API of `Cluster.layerHttp`.
 * @since 0.2.0
 */
export class Api extends HttpApi.make("data-harness-cluster").add(Sessions) {}
