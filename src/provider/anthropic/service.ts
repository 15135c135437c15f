/**
 * The provider service on an SDK client: `chat` sends one non-streaming `messages.create`;
 * `stream` sends it with `stream: true`, takes the raw response from the SDK (which sends the
 * request, checks the status and maps errors) and reads the SSE body with {@link BodyReader}.
 *
 * The SDK's own retries and timeouts are off: retries, timeouts and interruption belong to the
 * harness. Interrupting the fiber (or a consumer that stops pulling) aborts the HTTP request at
 * once through its `AbortSignal`; `Request.requestTimeout` bounds the wait for the response
 * headers on Effect's `Clock`.
 *
 * Private to the provider: not re-exported from the package.
 * @internal
 */
import type AnthropicSdk from "@anthropic-ai/sdk"
import { Cause, Channel, Clock, Duration, Effect, Exit, Redacted, Scope, Stream } from "effect"
import { emptyPartial, InvalidOptions, type ProviderError, Timeout } from "../../core/HarnessError.js"
import type { NormalizedResponse } from "../../core/NormalizedResponse.js"
import type * as StreamEvent from "../../core/StreamEvent.js"
import { chunksOf } from "../http/sseBody.js"
import * as Provider from "../Provider.js"
import * as PullDeadline from "../pullDeadline.js"
import { type ErrorContext, fromSdkError, makeError, redactor } from "./errors.js"
import { decodeApiMessage, toNormalizedResponse } from "./messages.js"
import { buildParams, type Defaults, type Params } from "./request.js"
import { BodyReader, type ResponseInfo } from "./sseReader.js"

/** The part of an SDK client the service uses. */
export interface Client {
  readonly messages: Pick<AnthropicSdk["messages"], "create">
}

/** What the service is built from besides its client. */
export interface ServiceOptions {
  readonly name: string
  readonly defaults: Defaults
  readonly headers?: Readonly<Record<string, string>> | undefined
  /** The key to keep out of every error message, when known. */
  readonly key: Redacted.Redacted<string> | undefined
  readonly baseURL: string | undefined
}

const maxTimerMillis = 2_147_483_647

const requestTimeoutError = (limit: Duration.Duration) => {
  const limitMillis = Duration.toMillis(limit)
  return new Timeout({
    phase: "request",
    limitMillis,
    message: `Anthropic sent no response headers within ${limitMillis} ms; the request was aborted. It can be retried, or raise \`requestTimeout\`.`,
    partial: emptyPartial
  })
}

const withRequestTimeout = <A>(
  effect: Effect.Effect<A, ProviderError>,
  limit: Duration.Duration | undefined
): Effect.Effect<A, ProviderError | Timeout> =>
  limit === undefined
    ? effect
    : Effect.timeoutOrElse(effect, { duration: limit, orElse: () => Effect.fail(requestTimeoutError(limit)) })

type Deadlines<E> = { readonly limits: PullDeadline.Limits; readonly onTimeout: PullDeadline.OnTimeout<E> }

/** What every request of one service is sent with. */
interface Sender {
  readonly client: Client
  readonly context: ErrorContext
  readonly requestOptions: (signal: AbortSignal) => AnthropicSdk.RequestOptions
}

const senderOf = (client: Client, options: ServiceOptions): Sender => {
  const secret = options.key !== undefined ? Redacted.value(options.key) : undefined
  const headers = options.headers
  return {
    client,
    context: { redact: redactor(secret), baseURL: options.baseURL },
    // built field by field: conditional spreads are a runtime call each, for every request
    requestOptions: (signal) => {
      const built: { -readonly [K in keyof AnthropicSdk.RequestOptions]: AnthropicSdk.RequestOptions[K] } = {
        signal,
        maxRetries: 0,
        timeout: maxTimerMillis
      }
      if (headers !== undefined) built.headers = headers
      return built
    }
  }
}

const failWith = (sender: Sender) => (thrown: unknown) =>
  Effect.flatMap(Clock.currentTimeMillis, (now) => Effect.fail(fromSdkError(sender.context, thrown, now)))

/** One whole turn: a non-streaming `messages.create`, its body validated. */
const chat = (
  sender: Sender,
  defaults: Defaults,
  request: Provider.Request
): Effect.Effect<NormalizedResponse, Provider.ProviderFailure> => {
  const params = buildParams(defaults, request, false)
  if (params instanceof InvalidOptions) return Effect.fail(params)
  return withRequestTimeout(
    Effect.tryPromise({
      try: (signal) => sender.client.messages.create(params, sender.requestOptions(signal)),
      catch: (thrown) => thrown
    }).pipe(Effect.catch(failWith(sender))),
    request.requestTimeout
  ).pipe(
    Effect.flatMap((message) => {
      const exit = decodeApiMessage(message)
      return Exit.isSuccess(exit)
        ? Effect.succeed(toNormalizedResponse(exit.value))
        : Effect.fail(
            makeError(sender.context, "InvalidResponse", `the response is not a valid message: ${exit.cause}`)
          )
    })
  )
}

/** Sends the request through the SDK (status checks, errors, headers) and returns the raw response. */
const open = (sender: Sender, params: Params<true>, request: Provider.Request, controller: AbortController) =>
  withRequestTimeout(
    Effect.tryPromise({
      try: (signal) => {
        signal.addEventListener("abort", () => controller.abort(), { once: true })
        return sender.client.messages.create(params, sender.requestOptions(controller.signal)).asResponse()
      },
      catch: (thrown) => thrown
    }).pipe(Effect.catch(failWith(sender))),
    request.requestTimeout
  )

const infoOf = (response: Response): ResponseInfo => ({
  requestId: response.headers.get("request-id") ?? undefined,
  status: response.status,
  contentType: response.headers.get("content-type") ?? undefined
})

/**
 * One turn's events. With `deadlines`, the reader enforces the first-event and idle limits
 * itself (see `pullDeadline.ts`): the first-event limit runs from the first pull, over the
 * request and the response headers, to the first event.
 */
const streamWith = <E>(
  sender: Sender,
  request: Provider.Request,
  params: Params<true>,
  deadlines: Deadlines<E> | undefined
): Stream.Stream<StreamEvent.ProviderEvent, ProviderError | Timeout | E> =>
  Stream.fromChannel(
    Channel.fromTransform((_, scope) =>
      Effect.uninterruptibleMask((restore) => {
        const controller = new AbortController()
        let reader: BodyReader<E> | undefined
        let watchdog: PullDeadline.Watchdog<E> | undefined
        /** The first-event limit passed before the response headers: the request is aborted. */
        let early: Exit.Exit<never, E> | undefined
        const read = Effect.flatMap(restore(open(sender, params, request, controller)), (response) =>
          Effect.clockWith((clock) => {
            const now = () => clock.currentTimeMillisUnsafe()
            reader = new BodyReader(chunksOf(response), infoOf(response), controller, sender.context, now, watchdog)
            return early === undefined ? Effect.succeed(reader.pull) : early
          })
        ).pipe(
          Effect.catchCause((cause) =>
            early !== undefined && !Cause.hasInterrupts(cause) ? early : Effect.failCause(cause)
          )
        )
        const watched = (started: PullDeadline.Watchdog<E> | undefined) => {
          watchdog = started
          watchdog?.arm((timeout) => {
            early = timeout
            controller.abort()
          })
          return read
        }
        // One finalizer for the reader and the watchdog: Effect closes a scope of one finalizer
        // directly, and one of several through a generator (about 9 µs at the end of every turn).
        return Effect.andThen(
          Scope.addFinalizer(
            scope,
            Effect.sync(() => {
              try {
                reader?.close()
              } finally {
                watchdog?.stop()
              }
            })
          ),
          deadlines === undefined
            ? read
            : Effect.flatMap(PullDeadline.Watchdog.start(deadlines.limits, deadlines.onTimeout), watched)
        )
      })
    )
  )

/** One turn as events; an invalid parameter fails before the request. */
const stream = (
  sender: Sender,
  defaults: Defaults,
  request: Provider.Request
): Stream.Stream<StreamEvent.ProviderEvent, Provider.ProviderFailure> => {
  const params = buildParams(defaults, request, true)
  if (params instanceof InvalidOptions) return Stream.fail(params)
  return PullDeadline.enforcingDeadlines(streamWith(sender, request, params, undefined), (limits, onTimeout) =>
    streamWith(sender, request, params, { limits, onTimeout })
  )
}

/** Builds the service; see the module comment. */
export const makeService = (client: Client, options: ServiceOptions): Provider.Service => {
  const sender = senderOf(client, options)
  const defaults = options.defaults
  return Provider.make({
    name: options.name,
    model: defaults.model,
    chat: (request) => chat(sender, defaults, request),
    stream: (request) => stream(sender, defaults, request)
  })
}
