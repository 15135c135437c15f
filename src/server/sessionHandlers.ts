/**
 * The handlers of the session endpoints.
 * @internal
 */
import { Duration, Effect, Layer, Stream } from "effect"
import { HttpServerRequest, HttpServerResponse } from "effect/http"
import { HttpApiBuilder, HttpApiMiddleware } from "effect/http-api"
import type { Approval, Usage } from "../index.js"
import { ApprovalNotPending, BadRequest, Unauthorized } from "./ApiError.js"
import * as EventLog from "./EventLog.js"
import { describeIssues, issuesOf } from "./input.js"
import { Api } from "./ServerApi.js"
import type { AskUsage } from "./ServerEvent.js"
import { type ServerSession, ServerSessions } from "./ServerSessions.js"
import {
  type ApprovalDecision,
  type ApprovalInfo,
  Authentication,
  InvalidInput,
  type SessionInfo
} from "./SessionApi.js"
import * as Sse from "./sse.js"
import { Tenant, type Tokens } from "./Tenancy.js"
import { handleInfo, upload } from "./upload.js"

/**
 * The authentication middleware over a token table: every scheme (bearer, `x-api-key`, cookie)
 * looks the token up; an unknown one is `Unauthorized`, and the token never appears in it.
 * @internal
 */
export const authenticationLayer = (tokens: Tokens) => {
  const check = <A, E, R>(
    effect: Effect.Effect<A, E, R>,
    { credential }: { readonly credential: Parameters<Tokens["lookup"]>[0] }
  ) => {
    const tenant = tokens.lookup(credential)
    return tenant === undefined
      ? Effect.fail(
          new Unauthorized({
            message:
              "Missing or unknown token: send `Authorization: Bearer <token>` (or `x-api-key: <token>`) with a token the server is configured with."
          })
        )
      : Effect.provideService(effect, Tenant, { id: tenant })
  }
  return Layer.succeed(Authentication)({ bearer: check, apiKey: check, cookie: check })
}

/**
 * Decoding failures as `BadRequest` naming each field; a response that fails to encode is an
 * internal error (reported in the server's log, not to the client).
 * @internal
 */
export const invalidInputLayer = HttpApiMiddleware.layerSchemaErrorTransform(InvalidInput, (error) => {
  if (error.kind === "Body" || error.kind === "ResponseHeaders") {
    return Effect.as(
      Effect.logError("response encoding failed", error.cause),
      HttpServerResponse.jsonUnsafe(
        { _tag: "InternalError", message: "The server failed to encode its response." },
        { status: 500 }
      )
    )
  }
  const issues = issuesOf(error)
  return Effect.fail(new BadRequest({ field: issues[0]!.field, message: describeIssues(issues), issues }))
})

/** @internal */
export const wireUsage = (usage: Usage.Usage): AskUsage => ({
  input_tokens: usage.inputTokens,
  output_tokens: usage.outputTokens,
  cache_read_input_tokens: usage.cacheReadTokens,
  cache_creation_input_tokens: usage.cacheWriteTokens
})

/** A waiting call as the API shows it. */
const approvalInfo = (pending: Approval.Pending): ApprovalInfo => ({
  tool_use_id: pending.toolUseId,
  tool_name: pending.tool,
  input: pending.input,
  ...(pending.reason === undefined ? {} : { reason: pending.reason }),
  requested_at: new Date(pending.requestedAt).toISOString()
})

/** What the model reads when a call is denied over HTTP without a reason. */
const noReason = "the approver gave no reason"

/** Applies an HTTP decision to the session's waiting call `toolUseId`. */
const decide = (held: ServerSession, toolUseId: string, body: ApprovalDecision) =>
  (body.decision === "approve"
    ? held.session.approve(toolUseId, "input" in body ? { input: body.input } : undefined)
    : held.session.deny(toolUseId, body.reason ?? noReason)
  ).pipe(Effect.mapError((error) => new ApprovalNotPending({ tool_use_id: error.toolUseId, message: error.message })))

/**
 * Options the handlers need.
 * @internal
 */
export interface HandlerOptions {
  readonly maxUploadBytes: number
  readonly keepAlive: Duration.Duration | undefined
}

/**
 * The session group's handlers.
 * @internal
 */
export const sessionHandlers = (options: HandlerOptions) =>
  HttpApiBuilder.group(Api, "sessions", (handlers) =>
    Effect.gen(function* () {
      const sessions = yield* ServerSessions
      const log = yield* EventLog.EventLog
      const info = (held: ServerSession): Effect.Effect<SessionInfo> =>
        Effect.map(log.bounds(held.stream), (bounds) => ({
          id: held.id,
          created_at: held.createdAt.toISOString(),
          system: held.system ?? null,
          provider: sessions.provider.name,
          model: sessions.provider.model,
          running_ask: held.runningAsk() ?? null,
          last_event_id: bounds.last
        }))
      return handlers
        .handle("create", ({ payload }) =>
          Effect.flatMap(Tenant, (tenant) =>
            Effect.flatMap(sessions.create(tenant.id, { system: payload.system }), info)
          )
        )
        .handle("list", () =>
          Effect.flatMap(Tenant, (tenant) =>
            Effect.map(
              Effect.flatMap(sessions.list(tenant.id), (all) => Effect.forEach(all, info)),
              (list) => ({ sessions: list })
            )
          )
        )
        .handle("get", ({ params }) =>
          Effect.flatMap(Tenant, (tenant) => Effect.flatMap(sessions.get(tenant.id, params.id), info))
        )
        .handle("remove", ({ params }) => Effect.flatMap(Tenant, (tenant) => sessions.remove(tenant.id, params.id)))
        .handle("upload", ({ params, query, payload }) =>
          Effect.gen(function* () {
            const tenant = yield* Tenant
            const request = yield* HttpServerRequest.HttpServerRequest
            const held = yield* sessions.get(tenant.id, params.id)
            return yield* upload({
              held,
              name: params.name,
              body: payload,
              contentType: request.headers["content-type"],
              contentLength: request.headers["content-length"],
              format: query.format,
              overwrite: query.overwrite === "true",
              description: query.description,
              limit: options.maxUploadBytes
            })
          })
        )
        .handle("handles", ({ params }) =>
          Effect.gen(function* () {
            const tenant = yield* Tenant
            const held = yield* sessions.get(tenant.id, params.id)
            const handles = yield* held.session.handles
            return { handles: handles.map(handleInfo) }
          })
        )
        .handle("ask", ({ params, payload }) =>
          Effect.gen(function* () {
            const tenant = yield* Tenant
            const accepted = yield* sessions.ask(tenant.id, params.id, payload.prompt)
            const entries = log
              .subscribe(EventLog.sessionStream(tenant.id, params.id), accepted.startId - 1)
              .pipe(Stream.takeUntil((e) => e.event.type === "ask_end" && e.event.ask_id === accepted.askId))
            return Sse.response(entries, options.keepAlive)
          })
        )
        .handle("events", ({ params, headers, query }) =>
          Effect.gen(function* () {
            const tenant = yield* Tenant
            const cursor = headers["last-event-id"] ?? query.after
            const entries = yield* sessions.events(tenant.id, params.id, {
              after: cursor === undefined ? undefined : Number(cursor),
              follow: query.follow === "true"
            })
            return Sse.response(entries, options.keepAlive)
          })
        )
        .handle("interrupt", ({ params }) =>
          Effect.flatMap(Tenant, (tenant) =>
            Effect.map(sessions.interrupt(tenant.id, params.id), (askId) => ({
              interrupted: askId !== undefined,
              ask_id: askId ?? null
            }))
          )
        )
        .handle("history", ({ params }) =>
          Effect.gen(function* () {
            const tenant = yield* Tenant
            const held = yield* sessions.get(tenant.id, params.id)
            return { messages: yield* held.session.history, usage: wireUsage(yield* held.session.usage) }
          })
        )
        .handle("approvals", ({ params }) =>
          Effect.gen(function* () {
            const tenant = yield* Tenant
            const held = yield* sessions.get(tenant.id, params.id)
            return { approvals: (yield* held.session.approvals).map(approvalInfo) }
          })
        )
        .handle("decide", ({ params, payload }) =>
          Effect.gen(function* () {
            const tenant = yield* Tenant
            const held = yield* sessions.get(tenant.id, params.id)
            // read first: once decided, the ask may run to its end before this answers
            const askId = held.runningAsk() ?? null
            yield* decide(held, params.tool_use_id, payload)
            return { tool_use_id: params.tool_use_id, decision: payload.decision, ask_id: askId }
          })
        )
    })
  )

/** @internal */
export const defaultKeepAlive = Duration.seconds(15)
