/**
 * The HTTP front of a cluster member: the routes of `HttpApi.ts` over `Cluster.Sessions`, so a
 * request to any runner (or to a client-only member) reaches the session's owner. Tokens, the
 * request body limit, JSON errors and the SSE framing are the server's (`data-harness/server`).
 * `Cluster.layerHttp` is the public face of this module.
 * @internal
 */
import { randomUUID } from "node:crypto"
import { createServer } from "node:http"
import * as NodeHttpServer from "@effect/platform-node/NodeHttpServer"
import { type Cause, Duration, Effect, Exit, Layer, Pull, Scope, Stream } from "effect"
import { HttpRouter, type HttpServer, type HttpServerError } from "effect/http"
import { HttpApiBuilder } from "effect/http-api"
import type { DataError } from "../core/HarnessError.js"
import * as Usage from "../core/Usage.js"
import { ApprovalNotPending, BadFile, BadRequest, SessionNotFound } from "../server/ApiError.js"
import { askOutcome } from "../server/askOutcome.js"
import { jsonErrors } from "../server/httpErrors.js"
import type { ApprovalDecision } from "../server/SessionApi.js"
import { approvalInfo, authenticationLayer, invalidInputLayer, noReason, wireUsage } from "../server/sessionHandlers.js"
import * as Sse from "../server/sse.js"
import * as Tenancy from "../server/Tenancy.js"
import type { SessionKey } from "../store/SessionStore.js"
import type { StoreError } from "../store/StoreError.js"
import { Api, AskNotFound, SessionExists } from "./HttpApi.js"
import * as SessionEntity from "./SessionEntity.js"
import { Sessions } from "./Sessions.js"

/**
 * Options of `Cluster.layerHttp`.
 * @since 0.2.0
 */
export interface HttpOptions {
  /** Who may call: a token table, or grants to build one from (as for `Server.layer`). */
  readonly tokens: Tenancy.Tokens | ReadonlyArray<Tenancy.TokenGrant>
  /** Default 8787; 0 picks a free port (read it from `HttpServer.HttpServer`'s `address`). */
  readonly port?: number | undefined
  /** Default `127.0.0.1`. */
  readonly host?: string | undefined
  /** Largest JSON request body in bytes (default 8 MiB, `Tenancy.defaultLimits.maxRequestBytes`). */
  readonly maxRequestBytes?: number | undefined
  /** How often an idle event stream gets a `: keepalive` comment (default 15 seconds; `false` for never). */
  readonly keepAlive?: Duration.Input | false | undefined
  /** How long shutdown waits for open responses (default 1 second). */
  readonly gracefulShutdownTimeout?: Duration.Input | undefined
}

type Failure = StoreError | SessionEntity.SessionUnavailable | DataError

/** A cluster or store failure as the response it stands for. */
const toHttp = (key: SessionKey, error: Failure, field: string) => {
  if (error._tag === "SessionUnavailable") return error
  if (error._tag === "DataError") {
    return new BadFile({ message: error.message, field: "body", reason: error.reason })
  }
  switch (error.reason) {
    case "NotFound":
      return new SessionNotFound({
        message: `No session ${key.id}: create it with POST /v1/sessions, or check the id and the token.`,
        session_id: key.id
      })
    case "AlreadyExists":
      return new SessionExists({
        message: `A session ${key.id} exists already: use it, or create one with another id.`,
        session_id: key.id
      })
    case "InvalidInput":
      return new BadRequest({
        message: error.message,
        field,
        issues: [{ field, message: error.message }]
      })
    case "Unavailable":
      return new SessionEntity.SessionUnavailable({ reason: "Persistence", message: error.message })
    default:
      // a store that is corrupt, locked or failing: the details go to the log, not to the client
      return Effect.die(error)
  }
}

/** The HTTP form of a cluster or store failure. */
type HttpFailure = BadFile | BadRequest | SessionNotFound | SessionExists | SessionEntity.SessionUnavailable

/**
 * Fails with the HTTP form of `error` (a defect for a store failure the client cannot act on);
 * `field` is where the session id came from.
 */
const failHttp =
  (key: SessionKey, field = "params.id") =>
  (error: Failure) => {
    const mapped = toHttp(key, error, field)
    return Effect.isEffect(mapped) ? mapped : Effect.fail(mapped)
  }

/** The `ask_end` of a `Done`: the server's shape, plus where the ask ran. */
const askEnd = (done: SessionEntity.AskDone) => ({
  type: "ask_end",
  ask_id: done.askId,
  status: done.status,
  usage: wireUsage(done.usage),
  runner: done.runner,
  session: done.session
})

/**
 * An ask's SSE records: its events after `after` with their ids in the ask's stored log, then
 * `ask_end` (also when the ask failed, with its error).
 */
const endedRecords = (
  chunks: Stream.Stream<SessionEntity.AskChunk, SessionEntity.AskError | SessionEntity.SessionUnavailable>,
  askId: string,
  after: number
): Stream.Stream<Sse.Outgoing> =>
  chunks.pipe(
    Stream.filter((chunk) => chunk._tag !== "Event" || chunk.id > after),
    Stream.map(
      (chunk): Sse.Outgoing =>
        chunk._tag === "Event" ? { id: chunk.id, event: chunk.event } : { id: undefined, event: askEnd(chunk) }
    ),
    Stream.catch((error) =>
      Stream.succeed<Sse.Outgoing>({
        id: undefined,
        event: { type: "ask_end", ask_id: askId, usage: wireUsage(Usage.empty), ...askOutcome(Exit.fail(error)) }
      })
    )
  )

/** An ask's SSE records: `ask_start`, then {@link endedRecords}. */
const askRecords = (
  chunks: Stream.Stream<SessionEntity.AskChunk, SessionEntity.AskError | SessionEntity.SessionUnavailable>,
  askId: string,
  prompt: string,
  after: number
): Stream.Stream<Sse.Outgoing> =>
  Stream.concat(
    Stream.succeed<Sse.Outgoing>({ id: undefined, event: { type: "ask_start", ask_id: askId, prompt } }),
    endedRecords(chunks, askId, after)
  )

/**
 * `stream` with its first elements read now: a failure before any (an unknown ask) fails this
 * effect, so it is the response's status instead of an event in it.
 */
const started = <A, E>(stream: Stream.Stream<A, E>): Effect.Effect<Stream.Stream<A, E>, E> =>
  Effect.uninterruptibleMask(
    (restore): Effect.Effect<Stream.Stream<A, E>, E> =>
      Effect.gen(function* () {
        const scope = yield* Scope.make()
        const pull = yield* Scope.provide(Stream.toPull(stream), scope)
        const first = yield* Effect.exit(restore(pull))
        if (Exit.isFailure(first)) {
          yield* Scope.close(scope, Exit.void)
          if (Pull.isDoneCause(first.cause)) return Stream.empty
          return yield* Effect.failCause(first.cause as Cause.Cause<E>)
        }
        const rest = Stream.fromPull(Effect.succeed(pull)) as Stream.Stream<A, E>
        return Stream.concat(Stream.fromIterable(first.value), rest).pipe(
          Stream.ensuring(Scope.close(scope, Exit.void))
        )
      })
  )

const handlers = (keepAlive: Duration.Duration | undefined) =>
  HttpApiBuilder.group(Api, "sessions", (group) =>
    Effect.gen(function* () {
      const sessions = yield* Sessions
      const keyOf = (id: string) => Effect.map(Tenancy.Tenant, (tenant) => ({ tenant: tenant.id, id }))
      /** The session exists for this tenant (on its owner, which then holds it); 404 otherwise. */
      const found = (key: SessionKey) => Effect.catch(Effect.asVoid(sessions.history(key)), failHttp(key))
      return group
        .handle("create", ({ payload }) =>
          Effect.gen(function* () {
            const key = yield* keyOf(payload.id ?? "")
            const created = yield* sessions
              .create(key.tenant, payload.id === undefined ? undefined : { id: payload.id })
              .pipe(Effect.catch(failHttp(key, "payload.id")))
            return { id: created.id }
          })
        )
        .handle("put", ({ params, query, payload }) =>
          Effect.gen(function* () {
            const key = yield* keyOf(params.id)
            const name = yield* sessions
              .put(key, params.name, payload, {
                overwrite: query.overwrite === "true",
                ...(query.description === undefined ? {} : { description: query.description })
              })
              .pipe(Effect.catch(failHttp(key)))
            return { name }
          })
        )
        .handle("ask", ({ params, payload, headers }) =>
          Effect.gen(function* () {
            const key = yield* keyOf(params.id)
            // a missing session is a 404 before the stream starts, not an event in it
            yield* found(key)
            const askId = payload.ask_id ?? randomUUID()
            const after = headers["last-event-id"] === undefined ? 0 : Number(headers["last-event-id"])
            const chunks = sessions.askStream(key, payload.prompt, { askId })
            return Sse.response(askRecords(chunks, askId, payload.prompt, after), keepAlive)
          })
        )
        .handle("interrupt", ({ params }) =>
          Effect.gen(function* () {
            const key = yield* keyOf(params.id)
            // an interrupt reaches the entity without opening the session: check it is the tenant's
            yield* found(key)
            const askId = yield* sessions.interrupt(key).pipe(Effect.catch(failHttp(key)))
            return { interrupted: askId !== undefined, ask_id: askId ?? null }
          })
        )
        .handle("history", ({ params }) =>
          Effect.gen(function* () {
            const key = yield* keyOf(params.id)
            const reply = yield* sessions.history(key).pipe(Effect.catch(failHttp(key)))
            return {
              messages: reply.history,
              usage: wireUsage(reply.usage),
              runner: reply.runner,
              running_ask: reply.running ?? null
            }
          })
        )
        .handle("approvals", ({ params }) =>
          Effect.gen(function* () {
            const key = yield* keyOf(params.id)
            const waiting = yield* sessions.approvals(key).pipe(Effect.catch(failHttp(key)))
            return { approvals: waiting.map(approvalInfo) }
          })
        )
        .handle("decide", ({ params, payload }) =>
          Effect.gen(function* () {
            const key = yield* keyOf(params.id)
            const askId = yield* decide(sessions, key, params.tool_use_id, payload)
            return { tool_use_id: params.tool_use_id, decision: payload.decision, ask_id: askId }
          })
        )
        .handle("events", ({ params, headers, query }) =>
          Effect.gen(function* () {
            const key = yield* keyOf(params.id)
            yield* found(key)
            const after = Number(headers["last-event-id"] ?? query.after ?? 0)
            // an unknown ask is a 404; any other failure ends the stream with its ask_end
            const chunks = yield* started(sessions.events(key, params.ask_id, { after })).pipe(
              Effect.catch((error) =>
                error._tag === "StoreError" && error.reason === "NotFound"
                  ? Effect.fail(
                      new AskNotFound({
                        message: `Session ${key.id} has no ask ${params.ask_id}: check the id (the ask_id of its ask_start, or of a decision).`,
                        ask_id: params.ask_id
                      })
                    )
                  : Effect.succeed(Stream.fail(error))
              )
            )
            return Sse.response(endedRecords(chunks, params.ask_id, after), keepAlive)
          })
        )
    })
  )

/** Applies an HTTP decision to a waiting call; the id of the ask that goes on with it. */
const decide = (
  sessions: Sessions["Service"],
  key: SessionKey,
  toolUseId: string,
  body: ApprovalDecision
): Effect.Effect<string, ApprovalNotPending | HttpFailure> =>
  (body.decision === "approve"
    ? sessions.approve(key, toolUseId, "input" in body ? { input: body.input } : undefined)
    : sessions.deny(key, toolUseId, body.reason ?? noReason)
  ).pipe(
    Effect.catch((error): Effect.Effect<never, ApprovalNotPending | HttpFailure> => {
      if (error._tag !== "ApprovalNotPending") return failHttp(key)(error)
      return Effect.fail(new ApprovalNotPending({ tool_use_id: error.toolUseId, message: error.message }))
    })
  )

const tokensOf = (tokens: HttpOptions["tokens"]): Tenancy.Tokens =>
  "lookup" in tokens ? tokens : Tenancy.tokens(tokens)

/**
 * The HTTP front listening on `host:port` over the `Cluster.Sessions` in context.
 * @internal
 */
export const layer = (
  options: HttpOptions
): Layer.Layer<HttpServer.HttpServer, HttpServerError.ServeError, Sessions> => {
  const keepAlive =
    options.keepAlive === false ? undefined : Duration.fromInputUnsafe(options.keepAlive ?? Duration.seconds(15))
  const group = handlers(keepAlive).pipe(
    Layer.provide([authenticationLayer(tokensOf(options.tokens)), invalidInputLayer])
  )
  const app = Layer.mergeAll(
    HttpApiBuilder.layer(Api, { openapiPath: "/openapi.json" }).pipe(Layer.provide(group)),
    jsonErrors(options.maxRequestBytes ?? Tenancy.defaultLimits.maxRequestBytes)
  )
  return HttpRouter.serve(app, { disableLogger: true, disableListenLog: true }).pipe(
    Layer.provideMerge(
      NodeHttpServer.layer(createServer, {
        port: options.port ?? 8787,
        host: options.host ?? "127.0.0.1",
        gracefulShutdownTimeout: options.gracefulShutdownTimeout ?? Duration.seconds(1)
      })
    )
  )
}
