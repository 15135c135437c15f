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

/**
 * A waiting call as the API shows it (the cluster's HTTP front shows it the same way).
 * @internal
 */
export const approvalInfo = (
  pending: Pick<Approval.Pending, "toolUseId" | "tool" | "input" | "reason" | "requestedAt">
): ApprovalInfo => ({
  tool_use_id: pending.toolUseId,
  tool_name: pending.tool,
  input: pending.input,
  ...(pending.reason === undefined ? {} : { reason: pending.reason }),
  requested_at: new Date(pending.requestedAt).toISOString()
})

/**
 * What the model reads when a call is denied over HTTP without a reason.
 * @internal
 */
export const noReason = "the approver gave no reason"

/** An HTTP decision as the session takes it. */
const decisionOf = (body: ApprovalDecision): Approval.Decision =>
  body.decision === "approve"
    ? { _tag: "Approved", ...("input" in body ? { input: body.input } : {}) }
    : { _tag: "Denied", reason: body.reason ?? noReason }

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
      const env: SessionsEnv = { sessions: yield* ServerSessions, log: yield* EventLog.EventLog, options }
      const { sessions } = env
      return handlers
        .handle("create", ({ payload }) =>
          Effect.flatMap(Tenant, (tenant) =>
            Effect.flatMap(sessions.create(tenant.id, { system: payload.system }), (held) => info(env, held))
          )
        )
        .handle("list", () => Effect.flatMap(Tenant, (tenant) => list(env, tenant.id)))
        .handle("get", ({ params }) =>
          Effect.flatMap(Tenant, (tenant) =>
            Effect.flatMap(sessions.get(tenant.id, params.id), (held) => info(env, held))
          )
        )
        .handle("remove", ({ params }) => Effect.flatMap(Tenant, (tenant) => sessions.remove(tenant.id, params.id)))
        .handle("upload", ({ params, query, payload }) =>
          Effect.flatMap(Tenant, (tenant) => uploadTo(env, tenant.id, params, query, payload))
        )
        .handle("handles", ({ params }) => Effect.flatMap(Tenant, (tenant) => handles(env, tenant.id, params.id)))
        .handle("ask", ({ params, payload }) =>
          Effect.flatMap(Tenant, (tenant) => ask(env, tenant.id, params.id, payload.prompt))
        )
        .handle("events", ({ params, headers, query }) =>
          Effect.flatMap(Tenant, (tenant) =>
            events(env, tenant.id, params.id, headers["last-event-id"] ?? query.after, query.follow === "true")
          )
        )
        .handle("interrupt", ({ params }) =>
          Effect.flatMap(Tenant, (tenant) =>
            Effect.map(sessions.interrupt(tenant.id, params.id), (askId) => ({
              interrupted: askId !== undefined,
              ask_id: askId ?? null
            }))
          )
        )
        .handle("history", ({ params }) => Effect.flatMap(Tenant, (tenant) => history(env, tenant.id, params.id)))
        .handle("approvals", ({ params }) => Effect.flatMap(Tenant, (tenant) => approvals(env, tenant.id, params.id)))
        .handle("decide", ({ params, payload }) =>
          Effect.flatMap(Tenant, (tenant) => decideCall(env, tenant.id, params.id, params.tool_use_id, payload))
        )
    })
  )

/** What the handlers share: the server's sessions, its event log and the handler options. */
interface SessionsEnv {
  readonly sessions: ServerSessions["Service"]
  readonly log: EventLog.Service
  readonly options: HandlerOptions
}

/** A session as the API shows it. */
const info = (env: SessionsEnv, held: ServerSession): Effect.Effect<SessionInfo> =>
  Effect.map(env.log.bounds(held.stream), (bounds) => ({
    id: held.id,
    created_at: held.createdAt.toISOString(),
    system: held.system ?? null,
    provider: env.sessions.provider.name,
    model: env.sessions.provider.model,
    running_ask: held.runningAsk() ?? null,
    last_event_id: bounds.last
  }))

/** The tenant's sessions. */
const list = (env: SessionsEnv, tenant: string) =>
  Effect.map(
    Effect.flatMap(env.sessions.list(tenant), (all) => Effect.forEach(all, (held) => info(env, held))),
    (list) => ({ sessions: list })
  )

/** Puts the request's body into session `params.id` as the handle `params.name`. */
const uploadTo = <E>(
  env: SessionsEnv,
  tenant: string,
  params: { readonly id: string; readonly name: string },
  query: {
    readonly format?: Parameters<typeof upload>[0]["format"]
    readonly overwrite?: "true" | "false"
    readonly description?: string
  },
  body: Stream.Stream<Uint8Array, E>
) =>
  Effect.gen(function* () {
    const request = yield* HttpServerRequest.HttpServerRequest
    const held = yield* env.sessions.get(tenant, params.id)
    return yield* upload({
      held,
      name: params.name,
      body,
      contentType: request.headers["content-type"],
      contentLength: request.headers["content-length"],
      format: query.format,
      overwrite: query.overwrite === "true",
      description: query.description,
      limit: env.options.maxUploadBytes
    })
  })

/** The handles of session `id`. */
const handles = (env: SessionsEnv, tenant: string, id: string) =>
  Effect.gen(function* () {
    const held = yield* env.sessions.get(tenant, id)
    const handles = yield* held.session.handles
    return { handles: handles.map(handleInfo) }
  })

/** Starts an ask in session `id`: its events as SSE, up to its `ask_end`. */
const ask = (env: SessionsEnv, tenant: string, id: string, prompt: string) =>
  Effect.gen(function* () {
    const accepted = yield* env.sessions.ask(tenant, id, prompt)
    const entries = env.log
      .subscribe(EventLog.sessionStream(tenant, id), accepted.startId - 1)
      .pipe(Stream.takeUntil((e) => e.event.type === "ask_end" && e.event.ask_id === accepted.askId))
    return Sse.response(entries, env.options.keepAlive)
  })

/** Session `id`'s events after `cursor` as SSE (across asks with `follow`). */
const events = (env: SessionsEnv, tenant: string, id: string, cursor: string | undefined, follow: boolean) =>
  Effect.gen(function* () {
    const entries = yield* env.sessions.events(tenant, id, {
      after: cursor === undefined ? undefined : Number(cursor),
      follow
    })
    return Sse.response(entries, env.options.keepAlive)
  })

/** Session `id`'s history and usage. */
const history = (env: SessionsEnv, tenant: string, id: string) =>
  Effect.gen(function* () {
    const held = yield* env.sessions.get(tenant, id)
    return { messages: yield* held.session.history, usage: wireUsage(yield* held.session.usage) }
  })

/** Session `id`'s calls waiting for approval. */
const approvals = (env: SessionsEnv, tenant: string, id: string) =>
  Effect.gen(function* () {
    const held = yield* env.sessions.get(tenant, id)
    return { approvals: (yield* held.session.approvals).map(approvalInfo) }
  })

/** Applies a decision to session `id`'s waiting call `toolUseId` (resuming its ask when none runs). */
const decideCall = (env: SessionsEnv, tenant: string, id: string, toolUseId: string, body: ApprovalDecision) =>
  env.sessions.decide(tenant, id, toolUseId, decisionOf(body)).pipe(
    Effect.map((askId) => ({ tool_use_id: toolUseId, decision: body.decision, ask_id: askId })),
    Effect.catchTag("ApprovalNotPending", (error) =>
      Effect.fail(new ApprovalNotPending({ tool_use_id: error.toolUseId, message: error.message }))
    )
  )

/** @internal */
export const defaultKeepAlive = Duration.seconds(15)
