/**
 * How the OpenAI-compatible provider turns failures into {@link ProviderError}s, with the same
 * reasons (and so the same retry behaviour) as the Anthropic provider.
 *
 * | HTTP / in-stream error | `reason` | retryable |
 * | --- | --- | --- |
 * | 400, 422, `context_length_exceeded` | `InvalidRequest` | no |
 * | 401 | `Authentication` | no |
 * | 402, 403, 429 `insufficient_quota` | `Permission` | no |
 * | 404 | `NotFound` | no |
 * | 413 | `RequestTooLarge` | no |
 * | 429 (with `retryAfter` ms) | `RateLimited` | yes |
 * | 503, 529 (with `retryAfter` ms) | `Overloaded` | yes |
 * | 500, 502, 504, other 5xx, `server_error` | `ServerError` | yes |
 * | connection refused, reset, dropped mid-stream, 408 | `Connection` | yes |
 * | malformed chunk, no `[DONE]` or `finish_reason` | `InvalidResponse` | no |
 *
 * An error inside a 200 stream (`data: {"error": {...}}`, with or without `event: error`) is
 * classified by its numeric `code` or `status_code` as an HTTP status, else by its `type`/`code`.
 *
 * The `retry-after` delay, the connection check and the message layout are shared with the
 * Anthropic provider (`http/errors.ts`); 503 is `Overloaded` here (OpenAI-compatible servers
 * answer 503 when busy, and have no 529) and 429 `insufficient_quota` is not a rate limit.
 * @internal
 */
import OpenAISdk from "openai"
import { ProviderError, type ProviderErrorReason } from "../../core/HarnessError.js"
import * as Http from "../http/errors.js"

/**
 * What error messages need: the server's name, its base URL, and how to take secrets out of text.
 * @internal
 */
export interface ErrorContext {
  readonly provider: string
  readonly label: string
  readonly baseURL: string | undefined
  readonly keyEnv: string | undefined
  readonly scrub: (text: string) => string
}

/** The statuses' reasons: busy OpenAI-compatible servers answer 503 (they have no 529). */
const statusReasons: Readonly<Record<number, ProviderErrorReason>> = { ...Http.statusReasons, 503: "Overloaded" }

/** The reason of an HTTP status. */
const reasonOfStatus = (status: number): ProviderErrorReason => Http.reasonOfStatus(status, statusReasons)

const reasonOfType: Record<string, ProviderErrorReason> = {
  invalid_request_error: "InvalidRequest",
  context_length_exceeded: "InvalidRequest",
  authentication_error: "Authentication",
  invalid_api_key: "Authentication",
  permission_error: "Permission",
  permission_denied: "Permission",
  insufficient_quota: "Permission",
  billing_error: "Permission",
  not_found_error: "NotFound",
  model_not_found: "NotFound",
  rate_limit_error: "RateLimited",
  rate_limit_exceeded: "RateLimited",
  requests: "RateLimited",
  tokens: "RateLimited",
  overloaded_error: "Overloaded",
  server_overloaded: "Overloaded",
  service_unavailable: "Overloaded",
  server_error: "ServerError",
  api_error: "ServerError",
  internal_error: "ServerError",
  timeout: "ServerError"
}

/** Codes that say more than the status: a 429 out of quota is not a rate limit. */
const overridingCodes: Record<string, ProviderErrorReason> = {
  insufficient_quota: "Permission",
  context_length_exceeded: "InvalidRequest"
}

const advice = (context: ErrorContext, reason: ProviderErrorReason, code: string | undefined): string => {
  switch (reason) {
    case "InvalidRequest":
      return code === "context_length_exceeded"
        ? "The conversation is longer than the model's context window: shorten it, or keep large data in session handles."
        : "Fix the request (messages, tools, model options); retrying it unchanged will not help."
    case "Authentication":
      return `Pass a valid \`apiKey\` to OpenAI.layer${context.keyEnv !== undefined ? ` or set ${context.keyEnv}` : ""}.`
    case "Permission":
      return code === "insufficient_quota"
        ? "The account is out of quota: check its plan and billing; retrying will not help."
        : "The API key may not use this model or feature: check the key's project, plan and billing."
    case "NotFound":
      return "Check the model name and the baseURL (the path before /chat/completions)."
    case "RequestTooLarge":
      return "Shorten the conversation or the tool results, e.g. keep large data in session handles."
    case "RateLimited":
      return "Retry after the server's delay, lower the request rate, or raise the rate limit."
    case "Overloaded":
      return `${context.label} is overloaded; retry shortly.`
    case "ServerError":
      return `${context.label} had a server error; retry shortly.`
    case "Connection":
      return "Check the network, that the server is running, and the baseURL; the request can be retried."
    case "InvalidResponse":
      return "The response was malformed; this is a server or proxy fault, report it if it repeats."
    case "Unknown":
      return "See the message above; retrying may not help."
  }
}

const what: Record<ProviderErrorReason, string> = {
  InvalidRequest: "rejected the request as invalid",
  Authentication: "rejected the API key",
  Permission: "denied permission",
  NotFound: "did not find the resource",
  RequestTooLarge: "found the request too large",
  RateLimited: "rate-limited the request",
  Overloaded: "is overloaded",
  ServerError: "failed with a server error",
  Connection: "could not be reached",
  InvalidResponse: "sent a malformed response",
  Unknown: "failed"
}

/**
 * A {@link ProviderError} with a message that says what happened and what to do.
 * @internal
 */
export const make = (
  context: ErrorContext,
  reason: ProviderErrorReason,
  detail: string,
  extra: {
    readonly status?: number | undefined
    readonly code?: string | undefined
    readonly retryAfter?: number | undefined
    readonly requestId?: string | undefined
  } = {}
): ProviderError => {
  const where = reason === "Connection" && context.baseURL ? ` at ${context.baseURL}` : ""
  const message = Http.layout({
    head: `${context.label}${where} ${what[reason]}${Http.statusTag(extra.status, extra.code)}`,
    detail: Http.trimDot(detail),
    retryAfter: extra.retryAfter,
    advice: advice(context, reason, extra.code),
    id: extra.requestId ? ` (request id ${extra.requestId})` : ""
  })
  return Http.providerError(reason, context.provider, context.scrub(message), extra)
}

/** The SDK's errors that are the network's fault (see `Http.isConnectionFailure`). */
const connectionErrors = [OpenAISdk.APIConnectionError, OpenAISdk.APIUserAbortError]

interface ErrorLike {
  readonly message?: unknown
  readonly status?: unknown
  readonly headers?: unknown
  readonly requestID?: unknown
  readonly error?: unknown
  readonly cause?: unknown
}

const stringField = (body: unknown, key: string): string | undefined => {
  const value = body !== null && typeof body === "object" ? (body as Record<string, unknown>)[key] : undefined
  return typeof value === "string" && value !== "" ? value : undefined
}

/**
 * Maps anything the SDK (or the body reader) throws to a {@link ProviderError}.
 * @internal
 */
export const fromThrown = (context: ErrorContext, thrown: unknown, nowMillis: number): ProviderError => {
  if (thrown instanceof ProviderError) return thrown
  const error = (typeof thrown === "object" && thrown !== null ? thrown : { message: String(thrown) }) as ErrorLike
  const status = typeof error.status === "number" ? error.status : undefined
  const requestId =
    typeof error.requestID === "string" ? error.requestID : (Http.headerOf(error.headers, "x-request-id") ?? undefined)
  const code = stringField(error.error, "code") ?? stringField(error.error, "type")
  const detail = Http.causeText(error, (error.error as { readonly message?: unknown } | undefined)?.message)
  if (status !== undefined) {
    const reason = (code !== undefined ? overridingCodes[code] : undefined) ?? reasonOfStatus(status)
    const retryAfter =
      reason === "RateLimited" || reason === "Overloaded" ? Http.retryAfterMillis(error.headers, nowMillis) : undefined
    return make(context, reason, detail, { status, code, retryAfter, requestId })
  }
  if (Http.isConnectionFailure(thrown, connectionErrors)) return make(context, "Connection", detail, { requestId })
  return make(context, "Unknown", detail, { requestId })
}

/**
 * The error object of a parsed payload, if it is one: `{"error": {...}}` (not `null`), vLLM's
 * `{"object": "error", ...}`, or anything sent as `event: error`.
 * @internal
 */
export const errorPayloadOf = (raw: unknown, errorEvent: boolean): unknown => {
  if (raw === null || typeof raw !== "object") return errorEvent ? { message: String(raw) } : undefined
  const fields = raw as Record<string, unknown>
  if (fields.error != null) return fields.error
  if (fields.object === "error" || errorEvent) return fields
  return undefined
}

/**
 * Maps an in-stream error object to a {@link ProviderError}: a numeric `code` or `status_code` as
 * an HTTP status, else its `type`/`code` names.
 * @internal
 */
export const fromErrorPayload = (context: ErrorContext, payload: unknown, requestId?: string): ProviderError => {
  const error = (payload !== null && typeof payload === "object" ? payload : { message: String(payload) }) as Record<
    string,
    unknown
  >
  const status =
    typeof error.status_code === "number" ? error.status_code : typeof error.code === "number" ? error.code : undefined
  const code = stringField(error, "code") ?? stringField(error, "type")
  const named =
    (code !== undefined ? (overridingCodes[code] ?? reasonOfType[code]) : undefined) ??
    (stringField(error, "type") !== undefined ? reasonOfType[stringField(error, "type")!] : undefined)
  const reason = named ?? (status !== undefined ? reasonOfStatus(status) : "Unknown")
  const message = stringField(error, "message") ?? JSON.stringify(payload)
  return make(context, reason, `an error inside the stream: ${message}`, { code, requestId })
}
