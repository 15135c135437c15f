/**
 * The handler of `POST /v1/messages`: one agent ask in a session of its own (made from the
 * request's conversation, released when the answer is complete or the client leaves), answered
 * as one Anthropic message, streamed or whole.
 * @internal
 */
import { randomBytes } from "node:crypto"
import { Cause, Effect, Exit, Layer, Option, Scope, Stream } from "effect"
import { HttpServerResponse } from "effect/http"
import { HttpApiBuilder, HttpApiMiddleware } from "effect/http-api"
import { Agent, type HarnessError, Provider } from "../index.js"
import { describeIssues, issuesOf } from "./input.js"
import { Authentication, InvalidInput, type MessagesRequest } from "./MessagesApi.js"
import { clientTool, conversationOf, providerFor, systemOf } from "./messagesConversation.js"
import { anthropicError, MessageAccumulator, MessageTranslator, type Out } from "./messagesStream.js"
import { Api } from "./ServerApi.js"
import * as ServerSessions from "./ServerSessions.js"
import * as Sse from "./sse.js"
import { Tenant, type Tokens } from "./Tenancy.js"

/**
 * The names of the tools every agent of the server has unless `builtinTools: false` (a tool of
 * the caller's may not take one of them).
 */
const builtinToolNames = ["list_variables", "answer", "sql", "javascript"]

/** An error response in the Anthropic API's shape. */
const errorResponse = (status: number, type: string, message: string) =>
  HttpServerResponse.jsonUnsafe({ type: "error", error: { type, message } }, { status })

const invalidRequest = (message: string) => errorResponse(400, "invalid_request_error", message)

/** The authentication middleware with Anthropic-shaped 401s. */
const authenticationLayer = (tokens: Tokens) => {
  const check = <A, E, R>(
    effect: Effect.Effect<A, E, R>,
    { credential }: { readonly credential: Parameters<Tokens["lookup"]>[0] }
  ) => {
    const tenant = tokens.lookup(credential)
    return tenant === undefined
      ? Effect.fail({
          type: "error" as const,
          error: {
            type: "authentication_error" as const,
            message: "Missing or unknown API key: pass a token the server is configured with as the SDK's apiKey."
          }
        })
      : Effect.provideService(effect, Tenant, { id: tenant })
  }
  return Layer.succeed(Authentication)({ bearer: check, apiKey: check, cookie: check })
}

/** Decoding failures as `invalid_request_error`s naming the field (`messages.0.content: ...`). */
const invalidInputLayer = HttpApiMiddleware.layerSchemaErrorTransform(InvalidInput, (error) =>
  Effect.succeed(
    error.kind === "Body" || error.kind === "ResponseHeaders"
      ? errorResponse(500, "api_error", "The server failed to encode its response.")
      : invalidRequest(describeIssues(issuesOf(error).map((i) => ({ ...i, field: i.field.replace(/^payload\./, "") }))))
  )
)

/** The request's tool names that clash with the harness's own tools, as an error message. */
const clashes = (request: MessagesRequest, builtins: ReadonlySet<string>): string | undefined => {
  const tools = request.tools ?? []
  for (const [index, tool] of tools.entries()) {
    if (builtins.has(tool.name)) {
      return `tools.${index}.name: "${tool.name}" is a tool of the server's own agent; name yours differently.`
    }
    if (tools.findIndex((other) => other.name === tool.name) !== index) {
      return `tools.${index}.name: "${tool.name}" is given twice.`
    }
  }
  return undefined
}

/** The SSE bytes of a chunk of message events (`discard` is not sent: the API has no such event). */
const sseChunk = (events: ReadonlyArray<Out>): Uint8Array => {
  let text = ""
  for (const event of events) if (event.type !== "discard") text += Sse.record(undefined, event.type, event)
  return Sse.encode(text)
}

const errorOf = (cause: Cause.Cause<HarnessError.HarnessError>) => {
  const failure = Cause.findErrorOption(cause)
  return Option.isSome(failure)
    ? anthropicError(failure.value)
    : { status: 500, type: "api_error", message: "The server failed while running the ask." }
}

/**
 * Options of the messages handler.
 * @internal
 */
export interface MessagesOptions {
  readonly tokens: Tokens
  readonly agent?: Omit<Agent.Options<never>, "system" | "maxTokens"> | undefined
}

/**
 * The messages group's handler and middleware.
 * @internal
 */
export const messagesHandlers = (options: MessagesOptions) =>
  HttpApiBuilder.group(Api, "messages", (handlers) =>
    Effect.gen(function* () {
      const env: MessagesEnv = {
        sessions: yield* ServerSessions.ServerSessions,
        provider: yield* Provider.Provider,
        builtins: new Set([
          ...(options.agent?.builtinTools === false ? [] : builtinToolNames),
          ...(options.agent?.tools ?? []).map((tool) => tool.name)
        ]),
        agent: options.agent
      }
      return handlers.handle("create", ({ payload }) =>
        Effect.gen(function* () {
          const tenant = yield* Tenant
          const scope = yield* Scope.make()
          const close = Scope.close(scope, Exit.void)
          const prepared = yield* prepare(env, payload, tenant.id, scope).pipe(Effect.onInterrupt(() => close))
          if ("response" in prepared) return yield* Effect.as(close, prepared.response)
          return yield* payload.stream === true
            ? respondStreamed(prepared.events, scope, close)
            : respondWhole(prepared.events, close)
        })
      )
    })
  ).pipe(Layer.provide([authenticationLayer(options.tokens), invalidInputLayer]))

/** What the handler's steps share: the server's sessions and provider, and the agent's tools and options. */
interface MessagesEnv {
  readonly sessions: ServerSessions.Service
  readonly provider: Provider.Service
  /** The names of the agent's own tools, which a request's tools may not take. */
  readonly builtins: ReadonlySet<string>
  readonly agent: MessagesOptions["agent"]
}

/** An ask's message events, a chunk at a time. */
type MessageEvents = Stream.Stream<ReadonlyArray<Out>, HarnessError.HarnessError>

/**
 * Checks the request and takes an ask slot of the tenant (held by `scope`), then starts the ask:
 * its events, or the error response that stopped it.
 */
const prepare = (
  env: MessagesEnv,
  request: MessagesRequest,
  tenant: string,
  scope: Scope.Closeable
): Effect.Effect<{ readonly response: HttpServerResponse.HttpServerResponse } | { readonly events: MessageEvents }> =>
  Effect.gen(function* () {
    const clash = clashes(request, env.builtins)
    if (clash !== undefined) return { response: invalidRequest(clash) }
    const taken = yield* Effect.exit(Scope.provide(env.sessions.askSlot(tenant), scope))
    if (Exit.isFailure(taken)) {
      const limit = env.sessions.limits.maxConcurrentAsks
      return {
        response: errorResponse(
          429,
          "rate_limit_error",
          `This key is running ${limit} asks, its limit; retry when one ends.`
        )
      }
    }
    return yield* startAsk(env, request, scope)
  })

/**
 * Makes the request's agent and its session (from the request's conversation, released with
 * `scope`) and asks it: the message events of the answer, ended by `message_stop`.
 */
const startAsk = (env: MessagesEnv, request: MessagesRequest, scope: Scope.Closeable) =>
  Effect.gen(function* () {
    const tools = (request.tools ?? []).map(clientTool)
    const made = yield* Effect.exit(
      Agent.make({
        ...env.agent,
        system: systemOf(request.system),
        maxTokens: request.max_tokens,
        tools: [...(env.agent?.tools ?? []), ...tools],
        // each request is stateless: its session is never stored
        store: false
      }).pipe(Effect.provideService(Provider.Provider, providerFor(env.provider, request)))
    )
    if (Exit.isFailure(made)) return { response: invalidRequest(Cause.pretty(made.cause)) }
    const { history, prompt } = conversationOf(request.messages)
    // no store: making the session cannot fail
    const session = yield* made.value.session({ history }).pipe(Effect.provideService(Scope.Scope, scope), Effect.orDie)
    // released with the scope whether or not the agent makes sessions scoped resources
    yield* Scope.addFinalizer(scope, session.close)
    const translator = new MessageTranslator(
      `msg_${randomBytes(12).toString("base64url")}`,
      new Set(tools.map((tool) => tool.name))
    )
    const events = session.askStream(prompt).pipe(
      Stream.mapArray((chunk) => [chunk.flatMap((event) => translator.push(event))] as const),
      Stream.takeUntil(() => translator.done),
      // the harness's turn limit: the message so far, to be continued by sending it back
      Stream.catchTag("MaxTurnsExceeded", () => Stream.sync(() => translator.finish("pause_turn")))
    )
    const withEnd = Stream.concat(
      events,
      Stream.suspend(() => (translator.finished ? Stream.empty : Stream.succeed(translator.finish())))
    )
    return { events: withEnd }
  })

/** The answer as one message (`stream: false`), or the error response it failed with; `close` runs at the end. */
const respondWhole = (events: MessageEvents, close: Effect.Effect<void>) =>
  Effect.gen(function* () {
    const accumulator = new MessageAccumulator()
    const exit = yield* events.pipe(
      Stream.runForEach((chunk) => Effect.sync(() => accumulator.pushAll(chunk))),
      Effect.exit,
      Effect.ensuring(close)
    )
    if (Exit.isSuccess(exit)) return HttpServerResponse.jsonUnsafe(accumulator.result())
    const error = errorOf(exit.cause)
    return errorResponse(error.status, error.type, error.message)
  })

/**
 * The answer as server-sent events (`stream: true`): the first events decide the status (a
 * failure before any output is an HTTP error), a later failure is an `error` event.
 */
const respondStreamed = (events: MessageEvents, scope: Scope.Closeable, close: Effect.Effect<void>) =>
  Effect.gen(function* () {
    const pull = yield* Stream.toPull(events).pipe(Scope.provide(scope))
    const first = yield* Effect.exit(pull).pipe(Effect.onInterrupt(() => close))
    if (Exit.isFailure(first)) {
      yield* close
      if (Cause.hasInterruptsOnly(first.cause)) return yield* Effect.interrupt
      const error = errorOf(first.cause as Cause.Cause<HarnessError.HarnessError>)
      return errorResponse(error.status, error.type, error.message)
    }
    const rest = Stream.fromPull(Effect.succeed(pull)).pipe(
      Stream.catchCause((cause) => {
        const error = errorOf(cause as Cause.Cause<HarnessError.HarnessError>)
        return Stream.succeed([{ type: "error", error: { type: error.type, message: error.message } }] as const)
      })
    )
    const body = Stream.concat(Stream.fromIterable(first.value), rest).pipe(
      Stream.map(sseChunk),
      Stream.ensuring(close)
    )
    return HttpServerResponse.stream(body, { contentType: "text/event-stream", headers: Sse.headers })
  })
