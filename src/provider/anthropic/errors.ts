/**
 * How the Anthropic provider turns what goes wrong into a {@link ProviderError}: HTTP statuses,
 * the SDK's error classes, in-stream `error` events, connection failures; and how the API key is
 * kept out of every message (see {@link redactor}).
 *
 * | HTTP / event | `reason` | retryable |
 * | --- | --- | --- |
 * | 400, 422 | `InvalidRequest` | no |
 * | 401 | `Authentication` | no |
 * | 402, 403 | `Permission` | no |
 * | 404 | `NotFound` | no |
 * | 413 | `RequestTooLarge` | no |
 * | 429, `rate_limit_error` | `RateLimited` (with `retryAfter` ms) | yes |
 * | 529, `overloaded_error` | `Overloaded` | yes |
 * | 500, 502, 503, 504, other 5xx, `api_error` | `ServerError` | yes |
 * | connection refused, reset, dropped mid-stream, 408 | `Connection` | yes |
 * | malformed event or response, no `message_stop` | `InvalidResponse` | no |
 *
 * Private to the provider: not re-exported from the package.
 * @internal
 */
import AnthropicSdk from "@anthropic-ai/sdk"
import { ProviderError, type ProviderErrorReason } from "../../core/HarnessError.js"
import type * as StreamEvent from "../../core/StreamEvent.js"
import {
  causeText,
  headerOf,
  isConnectionFailure,
  layout,
  providerError,
  reasonOfStatus,
  retryAfterMillis,
  statusTag,
  trimDot
} from "../http/errors.js"

/** The provider name on every error of this module. */
export const PROVIDER = "anthropic"

// redaction

/** What a secret is replaced with. */
export const REDACTED = "<redacted>"

/** Characters that continue a token: a secret next to one of these is part of a longer word. */
const tokenChar = /[A-Za-z0-9_-]/

const escapeRegExp = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")

/**
 * A function that replaces `secret` where it stands as a whole token (not inside a longer word),
 * or the identity when there is no secret. A short key such as `"k"` or `"the"` must not turn
 * "Check the network" into "Chec<redacted> <redacted> networ<redacted>": only a token equal to
 * the key is one.
 */
export const redactor = (secret: string | undefined): ((text: string) => string) => {
  if (secret === undefined || secret.length === 0) return (text) => text
  const pattern = new RegExp(
    `${tokenChar.test(secret[0]!) ? "(?<![A-Za-z0-9_-])" : ""}${escapeRegExp(secret)}${
      tokenChar.test(secret[secret.length - 1]!) ? "(?![A-Za-z0-9_-])" : ""
    }`,
    "g"
  )
  return (text) => (text.includes(secret) ? text.replace(pattern, REDACTED) : text)
}

/** Header names whose values are credentials: redacted whatever they hold. */
const credentialHeaders: ReadonlySet<string> = new Set(["x-api-key", "authorization", "proxy-authorization"])

/**
 * `arg` (a log line's argument) with `secret` redacted: strings by token, objects through their
 * JSON, and the values of credential headers (`x-api-key`, `authorization`) whole.
 */
export const redactArg = (redact: (text: string) => string, arg: unknown): unknown => {
  if (typeof arg === "string") return redact(arg)
  if (arg === null || typeof arg !== "object") return arg
  try {
    const text = JSON.stringify(arg, (key, value) =>
      credentialHeaders.has(key.toLowerCase()) && typeof value === "string" ? REDACTED : value
    )
    return text === undefined ? arg : JSON.parse(redact(text))
  } catch {
    return arg
  }
}

// classification

interface SdkErrorLike {
  readonly name?: unknown
  readonly message?: unknown
  readonly status?: unknown
  readonly headers?: unknown
  readonly type?: unknown
  readonly apiMessage?: unknown
  readonly requestID?: unknown
  readonly error?: unknown
  readonly cause?: unknown
}

const typeReasons: Readonly<Record<string, ProviderErrorReason>> = {
  overloaded_error: "Overloaded",
  rate_limit_error: "RateLimited",
  api_error: "ServerError",
  timeout_error: "ServerError",
  invalid_request_error: "InvalidRequest",
  authentication_error: "Authentication",
  permission_error: "Permission",
  billing_error: "Permission",
  not_found_error: "NotFound",
  request_too_large: "RequestTooLarge"
}

const reasonOfType = (type: string): ProviderErrorReason => typeReasons[type] ?? "Unknown"

const advice: Record<ProviderErrorReason, string> = {
  InvalidRequest: "Fix the request (messages, tools, max_tokens, model options); retrying it unchanged will not help.",
  Authentication:
    "Set ANTHROPIC_API_KEY to a valid key (https://console.anthropic.com/settings/keys) or pass `apiKey` to Anthropic.layer.",
  Permission: "The API key may not use this model or feature: check the key's workspace, plan and billing.",
  NotFound: "Check the model name and the baseURL (ANTHROPIC_BASE_URL, ANTHROPIC_MODEL).",
  RequestTooLarge: "Shorten the conversation or the tool results, e.g. keep large data in session handles.",
  RateLimited: "Retry after the server's delay, lower the request rate, or raise the rate limit.",
  Overloaded: "Anthropic is overloaded; retry shortly.",
  ServerError: "Anthropic had a server error; retry shortly.",
  Connection: "Check the network and the baseURL (ANTHROPIC_BASE_URL); the request can be retried.",
  InvalidResponse: "The response was malformed; this is a provider or proxy fault, report it if it repeats.",
  Unknown: "See the message above; retrying may not help."
}

const what: Record<ProviderErrorReason, string> = {
  InvalidRequest: "Anthropic rejected the request as invalid",
  Authentication: "Anthropic rejected the API key",
  Permission: "Anthropic denied permission",
  NotFound: "Anthropic did not find the resource",
  RequestTooLarge: "The request is too large for Anthropic",
  RateLimited: "Anthropic rate-limited the request",
  Overloaded: "Anthropic is overloaded",
  ServerError: "Anthropic failed with a server error",
  Connection: "The connection to Anthropic failed",
  InvalidResponse: "Anthropic sent a malformed response",
  Unknown: "The Anthropic request failed"
}

/**
 * What an error of one provider instance needs: `redact` removes its key from any text that goes
 * into an error, `baseURL` is named in connection failures.
 */
export interface ErrorContext {
  readonly redact: (text: string) => string
  readonly baseURL: string | undefined
}

/** Details of {@link makeError}. */
export interface ErrorDetails {
  readonly status?: number | undefined
  readonly type?: string | undefined
  readonly retryAfter?: number | undefined
  readonly requestId?: string | undefined
  /** Replaces the message's first words (what happened). */
  readonly head?: string | undefined
}

const headOf = (reason: ProviderErrorReason, extra: ErrorDetails): string =>
  extra.head ?? `${what[reason]}${statusTag(extra.status, extra.type)}`

/**
 * A {@link ProviderError} whose message says what happened, what to do, and the request id. Only
 * the parts that came from outside (the detail, the error type, the base URL, the request id) can
 * hold the key, so only they are redacted: this module's own words stay readable whatever the key.
 */
export const makeError = (
  context: ErrorContext,
  reason: ProviderErrorReason,
  detail: string,
  extra: ErrorDetails = {}
): ProviderError => {
  const redact = context.redact
  const where = reason === "Connection" && context.baseURL ? ` at ${redact(context.baseURL)}` : ""
  const requestId = extra.requestId ? redact(extra.requestId) : undefined
  const head = headOf(reason, extra.type === undefined ? extra : { ...extra, type: redact(extra.type) })
  const message = layout({
    head: `${head}${where}`,
    detail: redact(detail),
    retryAfter: extra.retryAfter,
    advice: advice[reason],
    id: requestId ? ` (request-id ${requestId})` : ""
  })
  return providerError(reason, PROVIDER, message, { status: extra.status, retryAfter: extra.retryAfter, requestId })
}

const typeOf = (error: SdkErrorLike): string | undefined => {
  if (typeof error.type === "string") return error.type
  const body = error.error as { readonly error?: { readonly type?: unknown } } | undefined
  return typeof body?.error?.type === "string" ? body.error.type : undefined
}

/** The SDK's errors that are the network's fault (see `isConnectionFailure`). */
const connectionErrors = [AnthropicSdk.APIConnectionError, AnthropicSdk.APIUserAbortError]

/**
 * Maps anything the SDK throws (its `APIError` classes, connection errors, SSE `error` events,
 * malformed JSON) to a {@link ProviderError}.
 */
export const fromSdkError = (context: ErrorContext, thrown: unknown, nowMillis: number): ProviderError => {
  if (thrown instanceof ProviderError) return thrown
  const error = (typeof thrown === "object" && thrown !== null ? thrown : { message: String(thrown) }) as SdkErrorLike
  const status = typeof error.status === "number" ? error.status : undefined
  const requestId =
    typeof error.requestID === "string" ? error.requestID : (headerOf(error.headers, "request-id") ?? undefined)
  const type = typeOf(error)
  const detail = trimDot(causeText(error, error.apiMessage))
  if (status !== undefined) {
    const reason = reasonOfStatus(status)
    const retryAfter =
      reason === "RateLimited" || reason === "Overloaded" ? retryAfterMillis(error.headers, nowMillis) : undefined
    return makeError(context, reason, detail, { status, type, retryAfter, requestId })
  }
  if (type !== undefined) {
    // An `error` event inside a 200 stream: the SDK throws it as an APIError without status.
    return makeError(context, reasonOfType(type), detail, { type, requestId })
  }
  if (thrown instanceof SyntaxError) {
    return makeError(context, "InvalidResponse", `an event is not valid JSON (${detail})`, { requestId })
  }
  if (isConnectionFailure(thrown, connectionErrors)) return makeError(context, "Connection", detail, { requestId })
  if (/api.?key|authenticat|credential|auth.?token/i.test(detail)) {
    // The SDK found no credentials (no key given and none in the environment or its profiles).
    return makeError(context, "Authentication", detail, { head: "No usable Anthropic credentials" })
  }
  return makeError(context, "Unknown", detail, { requestId })
}

/** The provider's in-stream `error` event as a {@link ProviderError}. */
export const fromErrorEvent = (
  context: ErrorContext,
  event: StreamEvent.ErrorEvent,
  requestId?: string | undefined
): ProviderError =>
  makeError(context, reasonOfType(event.error.type), trimDot(event.error.message ?? event.error.type), {
    type: event.error.type,
    requestId
  })
