/**
 * The session API as an effect `HttpApiGroup`: its endpoints, their schemas and errors. The
 * server serves it (with the OpenAPI document at `/openapi.json`); a client can derive a typed
 * client from it with `HttpApiClient.make(ServerApi.Api)`.
 *
 * | method | path | what |
 * | --- | --- | --- |
 * | POST | `/v1/sessions` | create a session (`system` prompt optional) |
 * | GET | `/v1/sessions` | the tenant's sessions |
 * | GET | `/v1/sessions/{id}` | one session |
 * | DELETE | `/v1/sessions/{id}` | delete it (interrupts its ask, releases its data) |
 * | PUT | `/v1/sessions/{id}/data/{name}` | upload a CSV/TSV/Parquet/JSON/JSONL body as handle `name` |
 * | GET | `/v1/sessions/{id}/data` | the handles with their snapshots |
 * | POST | `/v1/sessions/{id}/asks` | ask; the response is the ask's events as `text/event-stream` |
 * | GET | `/v1/sessions/{id}/events` | resume after `Last-Event-ID` (or `?after=`): what was missed, then live |
 * | POST | `/v1/sessions/{id}/interrupt` | interrupt the running ask |
 * | GET | `/v1/sessions/{id}/history` | the conversation and usage |
 * | GET | `/v1/sessions/{id}/approvals` | the tool calls waiting for approval (with a store, also those an ended ask left waiting) |
 * | POST | `/v1/sessions/{id}/approvals/{tool_use_id}` | decide one: `{"decision": "approve", "input"?}` or `{"decision": "deny", "reason"?}`; with no ask running, resumes the ask that paused |
 *
 * @since 0.2.0
 */
import { Schema } from "effect"
import {
  HttpApi,
  HttpApiEndpoint,
  HttpApiGroup,
  HttpApiMiddleware,
  HttpApiSchema,
  HttpApiSecurity
} from "effect/http-api"
import { Message } from "../index.js"
import {
  ApprovalNotPending,
  AskInProgress,
  BadFile,
  BadRequest,
  PayloadTooLarge,
  SessionNotFound,
  TooManyRequests,
  Unauthorized,
  UnsupportedMediaType
} from "./ApiError.js"
import { EventsExpired } from "./EventLog.js"
import * as ServerEvent from "./ServerEvent.js"
import type { Tenant } from "./Tenancy.js"

// middleware

/**
 * The token schemes every authenticated endpoint takes: `Authorization: Bearer`, `x-api-key`,
 * and the `dh_token` cookie.
 * @since 0.2.0
 */
export const security = {
  bearer: HttpApiSecurity.bearer,
  apiKey: HttpApiSecurity.apiKey({ in: "header", key: "x-api-key" }),
  cookie: HttpApiSecurity.apiKey({ in: "cookie", key: "dh_token" })
}

/**
 * Authenticates a session API request and provides its `Tenant`.
 * @since 0.2.0
 */
export class Authentication extends HttpApiMiddleware.Service<Authentication, { provides: Tenant; requires: never }>()(
  "data-harness/server/SessionApi/Authentication",
  { security, error: Unauthorized }
) {}

/**
 * Turns a request that fails decoding into a `BadRequest` that names the field.
 * @since 0.2.0
 */
export class InvalidInput extends HttpApiMiddleware.Service<InvalidInput>()(
  "data-harness/server/SessionApi/InvalidInput",
  { error: BadRequest }
) {}

// models

/**
 * A session as the API shows it.
 * @since 0.2.0
 */
export const SessionInfo = Schema.Struct({
  id: Schema.String,
  created_at: Schema.String,
  system: Schema.NullOr(Schema.String),
  provider: Schema.String,
  model: Schema.String,
  /** The ask running now, if any. */
  running_ask: Schema.NullOr(Schema.String),
  /** The id of the newest event in the session's log (0 before the first ask). */
  last_event_id: Schema.Number
})
/** @since 0.2.0 */
export type SessionInfo = typeof SessionInfo.Type

/**
 * A data handle and what the model sees of it.
 * @since 0.2.0
 */
export const HandleInfo = Schema.Struct({
  name: Schema.String,
  description: Schema.optionalKey(Schema.String),
  /** For a saved query result, the SQL that made it. */
  query: Schema.optionalKey(Schema.String),
  /** The snapshot: `kind` (`table`, `array`, `object`, `scalar`) and its summary (rows, columns, sample). */
  snapshot: Schema.Record(Schema.String, Schema.Unknown)
})
/** @since 0.2.0 */
export type HandleInfo = typeof HandleInfo.Type

/**
 * One SSE event of an ask: `id` is its position in the session's event log.
 * @since 0.2.0
 */
export const SseEvent = Schema.Struct({
  id: Schema.String,
  event: Schema.String,
  data: Schema.fromJsonString(ServerEvent.ServerEvent)
})

/**
 * A tool call waiting for approval (what its `approval_request` event said, and since when).
 * @since 0.2.0
 */
export const ApprovalInfo = Schema.Struct({
  tool_use_id: Schema.String,
  tool_name: Schema.String,
  /** What the call would run with (approve with another `input` to change it). */
  input: Schema.Unknown,
  reason: Schema.optionalKey(Schema.String),
  requested_at: Schema.String
})
/** @since 0.2.0 */
export type ApprovalInfo = typeof ApprovalInfo.Type

/**
 * A decision about a waiting tool call: `approve` runs it (with `input` instead of the model's
 * when given); `deny` does not, and the model reads `reason` as the call's error result.
 * @since 0.2.0
 */
export const ApprovalDecision = Schema.Struct({
  decision: Schema.Literals(["approve", "deny"]),
  /** Why it is denied (only with `deny`), as the model reads it. */
  reason: Schema.optionalKey(Schema.String),
  /** The input to run the call with instead of the model's (only with `approve`). */
  input: Schema.optionalKey(Schema.Unknown)
}).check(
  Schema.makeFilter((body) => {
    if (body.decision === "deny" && "input" in body) {
      return { path: ["input"], issue: "input goes with approve (to run an edited call); a denied call does not run" }
    }
    if (body.decision === "approve" && "reason" in body) {
      return { path: ["reason"], issue: "reason goes with deny (the model reads it); an approved call just runs" }
    }
    return undefined
  })
)
/** @since 0.2.0 */
export type ApprovalDecision = typeof ApprovalDecision.Type

const events = HttpApiSchema.StreamSse({ events: SseEvent })

const sessionId = { id: Schema.String }

/** A prompt with something besides whitespace in it. */
const Prompt = Schema.String.check(
  Schema.makeFilter((text: string) => /\S/.test(text) || "the prompt is empty or whitespace only; ask with some text")
)

/** A non-negative integer written in decimal, as SSE ids and query parameters carry it. */
const EventId = Schema.String.check(
  Schema.makeFilter((text: string) => /^\d{1,15}$/.test(text) || "expected an event id: a whole number, 0 or more")
)

/** Upload formats and the content types that announce them. */
export const uploadContentTypes = [
  "text/csv",
  "text/tab-separated-values",
  "application/json",
  "application/x-ndjson",
  "application/jsonl",
  "application/vnd.apache.parquet",
  "application/x-parquet",
  "application/octet-stream"
] as const

// endpoints

/**
 * The session endpoints.
 * @since 0.2.0
 */
export class Sessions extends HttpApiGroup.make("sessions")
  .add(
    HttpApiEndpoint.post("create", "/v1/sessions", {
      payload: Schema.Struct({ system: Schema.optionalKey(Schema.String) }),
      success: SessionInfo.pipe(HttpApiSchema.status(201)),
      error: TooManyRequests
    }),
    HttpApiEndpoint.get("list", "/v1/sessions", {
      success: Schema.Struct({ sessions: Schema.Array(SessionInfo) })
    }),
    HttpApiEndpoint.get("get", "/v1/sessions/:id", {
      params: sessionId,
      success: SessionInfo,
      error: SessionNotFound
    }),
    HttpApiEndpoint.delete("remove", "/v1/sessions/:id", {
      params: sessionId,
      success: HttpApiSchema.NoContent,
      error: SessionNotFound
    }),
    HttpApiEndpoint.put("upload", "/v1/sessions/:id/data/:name", {
      params: { id: Schema.String, name: Schema.String },
      query: {
        /** The format when the content type does not say (`application/octet-stream`). */
        format: Schema.optionalKey(Schema.Literals(["csv", "tsv", "parquet", "json", "jsonl"])),
        overwrite: Schema.optionalKey(Schema.Literals(["true", "false"])),
        description: Schema.optionalKey(Schema.String)
      },
      payload: HttpApiSchema.StreamUint8Array({ contentType: [...uploadContentTypes] }),
      success: Schema.Struct({ name: Schema.String, bytes: Schema.Number, handle: HandleInfo }).pipe(
        HttpApiSchema.status(201)
      ),
      error: [SessionNotFound, PayloadTooLarge, UnsupportedMediaType, BadFile]
    }),
    HttpApiEndpoint.get("handles", "/v1/sessions/:id/data", {
      params: sessionId,
      success: Schema.Struct({ handles: Schema.Array(HandleInfo) }),
      error: SessionNotFound
    }),
    HttpApiEndpoint.post("ask", "/v1/sessions/:id/asks", {
      params: sessionId,
      payload: Schema.Struct({ prompt: Prompt }),
      success: events,
      error: [SessionNotFound, AskInProgress, TooManyRequests]
    }),
    HttpApiEndpoint.get("events", "/v1/sessions/:id/events", {
      params: sessionId,
      headers: { "last-event-id": Schema.optionalKey(EventId) },
      query: {
        /** Resume after this id when the client cannot send `Last-Event-ID`. */
        after: Schema.optionalKey(EventId),
        /** `true`: stay open across asks until the session is deleted. */
        follow: Schema.optionalKey(Schema.Literals(["true", "false"]))
      },
      success: events,
      error: [SessionNotFound, EventsExpired]
    }),
    HttpApiEndpoint.post("interrupt", "/v1/sessions/:id/interrupt", {
      params: sessionId,
      success: Schema.Struct({ interrupted: Schema.Boolean, ask_id: Schema.NullOr(Schema.String) }),
      error: SessionNotFound
    }),
    HttpApiEndpoint.get("history", "/v1/sessions/:id/history", {
      params: sessionId,
      success: Schema.Struct({ messages: Message.History, usage: ServerEvent.AskUsage }),
      error: SessionNotFound
    }),
    HttpApiEndpoint.get("approvals", "/v1/sessions/:id/approvals", {
      params: sessionId,
      success: Schema.Struct({ approvals: Schema.Array(ApprovalInfo) }),
      error: SessionNotFound
    }),
    HttpApiEndpoint.post("decide", "/v1/sessions/:id/approvals/:tool_use_id", {
      params: { id: Schema.String, tool_use_id: Schema.String },
      payload: ApprovalDecision,
      success: Schema.Struct({
        tool_use_id: Schema.String,
        decision: Schema.Literals(["approve", "deny"]),
        /** The ask that goes on with the decision (one resumed by it when none ran). */
        ask_id: Schema.NullOr(Schema.String)
      }),
      error: [SessionNotFound, ApprovalNotPending, TooManyRequests]
    })
  )
  .middleware(InvalidInput)
  .middleware(Authentication)
  // every problem of a request, and an unknown body field is one (a misspelt option is not ignored)
  .annotate(HttpApi.ParseOptions, { errors: "all" })
  .annotate(HttpApi.PayloadParseOptions, { errors: "all", onExcessProperty: "error" }) {}
