/**
 * Errors that do not pass through an endpoint's error schema, as JSON: a body over the request
 * limit, an unsupported content type, an unknown route, a defect. Under `/v1/messages` they take
 * the Anthropic API's error shape, elsewhere the session API's `{_tag, message}`.
 * @internal
 */
import { ByteSize, Cause, Effect, Option } from "effect"
import {
  HttpIncomingMessage,
  HttpRouter,
  HttpServerRequest,
  HttpServerRespondable,
  HttpServerResponse
} from "effect/http"
import { HttpApiError } from "effect/http-api"

/** The Anthropic error type of each status. */
export const anthropicErrorTypes: Readonly<Record<number, string>> = {
  400: "invalid_request_error",
  401: "authentication_error",
  403: "permission_error",
  404: "not_found_error",
  413: "request_too_large",
  415: "invalid_request_error",
  429: "rate_limit_error",
  500: "api_error",
  504: "timeout_error",
  529: "overloaded_error"
}

const isAnthropicPath = (url: string) => url === "/v1/messages" || url.startsWith("/v1/messages?")

const describe = (status: number, limit: number, request: HttpServerRequest.HttpServerRequest) => {
  switch (status) {
    case 413:
      return {
        tag: "PayloadTooLarge",
        field: "body",
        message: `The request body is larger than ${limit} bytes, the server's limit.`
      }
    case 415:
      return {
        tag: "UnsupportedMediaType",
        field: "content-type",
        message: `This endpoint does not take ${request.headers["content-type"] ?? "a body without a content type"}.`
      }
    case 404:
      return { tag: "NotFound", field: "url", message: `No route ${request.method} ${request.url.split("?")[0]}.` }
    case 405:
      return { tag: "MethodNotAllowed", field: "method", message: `${request.method} is not allowed here.` }
    case 400:
      return { tag: "BadRequest", field: "body", message: "The request could not be read." }
    default:
      return { tag: "InternalError", field: undefined, message: "The server failed; its log has the details." }
  }
}

/** A bodiless or plain-text error response as JSON in the path's error shape. */
const asJson = (
  response: HttpServerResponse.HttpServerResponse,
  request: HttpServerRequest.HttpServerRequest,
  limit: number
): HttpServerResponse.HttpServerResponse => {
  if (response.status < 400) return response
  const contentType =
    response.headers["content-type"] ?? (response.body._tag === "Empty" ? "" : response.body.contentType)
  if (contentType?.includes("json")) return response
  const { tag, field, message } = describe(response.status, limit, request)
  const body = isAnthropicPath(request.url)
    ? { type: "error", error: { type: anthropicErrorTypes[response.status] ?? "api_error", message } }
    : { _tag: tag, message, ...(field !== undefined ? { field } : {}) }
  return HttpServerResponse.jsonUnsafe(body, {
    status: response.status,
    ...(response.status === 413 ? { headers: { connection: "close" } } : {})
  })
}

/** The response a failure or defect stands for: its own when it is respondable, else a 500. */
const responseOf = (error: unknown) =>
  HttpServerRespondable.isRespondable(error)
    ? HttpServerRespondable.toResponse(error)
    : HttpApiError.HttpApiPayloadTooLarge.is(error)
      ? Effect.succeed(HttpServerResponse.empty({ status: 413 }))
      : Effect.as(Effect.logError("request failed", error), HttpServerResponse.empty({ status: 500 }))

/**
 * The global middleware: the request body limit, and JSON errors.
 * @internal
 */
export const jsonErrors = (maxRequestBytes: number) => {
  const limit = ByteSize.bytes(maxRequestBytes)
  return HttpRouter.middleware(
    (effect) =>
      Effect.gen(function* () {
        const request = yield* HttpServerRequest.HttpServerRequest
        const response = yield* effect.pipe(
          Effect.provideService(HttpIncomingMessage.MaxBodySize, limit),
          Effect.catchCause((cause) => {
            if (Cause.hasInterruptsOnly(cause)) return Effect.failCause(cause)
            const error = Cause.findErrorOption(cause)
            return responseOf(Option.isSome(error) ? error.value : Cause.squash(cause))
          })
        )
        return asJson(response, request, maxRequestBytes)
      }),
    { global: true }
  )
}
