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
import { Effect, Exit, Redacted, Stream } from "effect"
import { InvalidOptions, type ProviderError, type Timeout } from "../../core/HarnessError.js"
import type { NormalizedResponse } from "../../core/NormalizedResponse.js"
import type * as StreamEvent from "../../core/StreamEvent.js"
import * as Http from "../http/responseStream.js"
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

/** What every request of one service is sent with. */
interface Sender {
  readonly client: Client
  readonly context: ErrorContext
  readonly requestOptions: (signal: AbortSignal) => AnthropicSdk.RequestOptions
  readonly toError: (thrown: unknown, nowMillis: number) => ProviderError
}

const senderOf = (client: Client, options: ServiceOptions): Sender => {
  const secret = options.key !== undefined ? Redacted.value(options.key) : undefined
  const context: ErrorContext = { redact: redactor(secret), baseURL: options.baseURL }
  return {
    client,
    context,
    requestOptions: Http.requestOptions(options.headers),
    toError: (thrown, now) => fromSdkError(context, thrown, now)
  }
}

/** Sends through the SDK, under `Request.requestTimeout` until the response (headers) came. */
const send = <A>(sender: Sender, request: Provider.Request, call: (signal: AbortSignal) => PromiseLike<A>) =>
  Http.send(call, sender.toError, "Anthropic", request.requestTimeout)

/** One whole turn: a non-streaming `messages.create`, its body validated. */
const chat = (
  sender: Sender,
  defaults: Defaults,
  request: Provider.Request
): Effect.Effect<NormalizedResponse, Provider.ProviderFailure> => {
  const params = buildParams(defaults, request, false)
  if (params instanceof InvalidOptions) return Effect.fail(params)
  return send(sender, request, (signal) => sender.client.messages.create(params, sender.requestOptions(signal))).pipe(
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
const open = (sender: Sender, params: Params<true>, request: Provider.Request) => (controller: AbortController) =>
  send(
    sender,
    request,
    Http.relayAbort(controller, (signal) =>
      sender.client.messages.create(params, sender.requestOptions(signal)).asResponse()
    )
  )

const infoOf = (response: Response): ResponseInfo => ({
  requestId: response.headers.get("request-id") ?? undefined,
  status: response.status,
  contentType: response.headers.get("content-type") ?? undefined
})

/** One turn's events, read by a {@link BodyReader} (with `deadlines`, under them: see `Http.readResponse`). */
const streamWith = <E>(
  sender: Sender,
  request: Provider.Request,
  params: Params<true>,
  deadlines: Http.Deadlines<E> | undefined
): Stream.Stream<StreamEvent.ProviderEvent, ProviderError | Timeout | E> =>
  Http.readResponse(
    open(sender, params, request),
    (response, controller, now, watchdog) =>
      new BodyReader(chunksOf(response), infoOf(response), controller, sender.context, now, watchdog),
    deadlines
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
