/**
 * What the HTTP providers' error mappings (`anthropic/errors.ts`, `openai/errors.ts`) share: the
 * server's `retry-after` delay, the reasons of the HTTP statuses, whether something thrown is the
 * network's fault, the text of an error and its causes, and the layout of a message (what
 * happened, what to do, the request id). Each provider keeps its own words and its own tables.
 *
 * Private to the providers: not re-exported from the package.
 * @internal
 */
import { ProviderError, type ProviderErrorReason } from "../../core/HarnessError.js"

/** A header of a `Headers` object or of a plain record of them, if it is there. */
export const headerOf = (headers: unknown, name: string): string | undefined => {
  if (headers === null || typeof headers !== "object") return undefined
  if (typeof (headers as Headers).get === "function") return (headers as Headers).get(name) ?? undefined
  const value = (headers as Record<string, unknown>)[name]
  return typeof value === "string" ? value : undefined
}

/**
 * The server's `retry-after-ms` or `retry-after` (seconds or an HTTP date) in milliseconds.
 *
 * @example
 * ```ts
 * retryAfterMillis({ "retry-after": "2" }, Date.now()) // 2000
 * ```
 */
export const retryAfterMillis = (headers: unknown, nowMillis: number): number | undefined => {
  const ms = headerOf(headers, "retry-after-ms")
  if (ms !== undefined) {
    const value = Number.parseFloat(ms)
    if (Number.isFinite(value) && value >= 0) return value
  }
  const after = headerOf(headers, "retry-after")
  if (after === undefined) return undefined
  const seconds = Number(after.trim())
  if (after.trim() !== "" && Number.isFinite(seconds) && seconds >= 0) return seconds * 1000
  const date = Date.parse(after)
  return Number.isNaN(date) ? undefined : Math.max(0, date - nowMillis)
}

/** The reasons of the HTTP statuses both APIs give the same meaning; any other 5xx is a `ServerError`. */
export const statusReasons: Readonly<Record<number, ProviderErrorReason>> = {
  400: "InvalidRequest",
  422: "InvalidRequest",
  401: "Authentication",
  402: "Permission",
  403: "Permission",
  404: "NotFound",
  408: "Connection",
  413: "RequestTooLarge",
  429: "RateLimited",
  529: "Overloaded"
}

/** The reason of an HTTP status in `table` (default {@link statusReasons}): `ServerError` for another 5xx, else `Unknown`. */
export const reasonOfStatus = (
  status: number,
  table: Readonly<Record<number, ProviderErrorReason>> = statusReasons
): ProviderErrorReason => table[status] ?? (status >= 500 ? "ServerError" : "Unknown")

const connectionCode = /^(E[A-Z_]+|UND_ERR_[A-Z_]+)$/

/** An error class of an SDK (its `APIConnectionError`, `APIUserAbortError`). */
// biome-ignore lint/suspicious/noExplicitAny: any constructor, for `instanceof`
export type ErrorClass = abstract new (...args: Array<any>) => unknown

/**
 * Whether something thrown while sending or reading a request is the network's fault: one of the
 * SDK's `sdkErrors` (its connection error and its timeout, an abort), fetch's `TypeError` ("fetch
 * failed", "terminated"), or an `AbortError`, `APIConnectionError` or socket error code
 * (`ECONNRESET`, `UND_ERR_SOCKET`, ...) somewhere in its causes.
 */
export const isConnectionFailure = (thrown: unknown, sdkErrors: ReadonlyArray<ErrorClass>): boolean => {
  for (const errorClass of sdkErrors) if (thrown instanceof errorClass) return true
  if (thrown instanceof TypeError) return true
  let current = thrown as { readonly name?: unknown; readonly code?: unknown; readonly cause?: unknown } | undefined
  for (let depth = 0; depth < 4 && current !== null && typeof current === "object"; depth++) {
    if (current.name === "AbortError" || current.name === "APIConnectionError") return true
    if (typeof current.code === "string" && connectionCode.test(current.code)) return true
    current = current.cause as typeof current
  }
  return false
}

/** The fields of something thrown that {@link causeText} reads. */
export interface ThrownLike {
  readonly message?: unknown
  readonly cause?: unknown
}

/**
 * The text of an error: `apiText` (the server's own message) when there is one, else its
 * `message`, followed by the messages of up to three causes that it does not already contain.
 */
export const causeText = (error: ThrownLike, apiText: unknown): string => {
  let text = typeof apiText === "string" && apiText !== "" ? apiText : undefined
  if (text === undefined && typeof error.message === "string") text = error.message
  let cause = error.cause as ThrownLike | undefined
  for (let depth = 0; depth < 3 && cause !== null && typeof cause === "object"; depth++) {
    if (typeof cause.message === "string" && cause.message !== "" && !text?.includes(cause.message)) {
      text = text === undefined ? cause.message : `${text}: ${cause.message}`
    }
    cause = cause.cause as ThrownLike | undefined
  }
  return text ?? String(error)
}

/** `text` without its trailing dots (a message adds its own). */
export const trimDot = (text: string): string => text.replace(/\.+$/, "")

/** ` (HTTP 429 rate_limit_error)`, ` (rate_limit_error)` or nothing: what a message's head says of the response. */
export const statusTag = (status: number | undefined, name: string | undefined): string =>
  status !== undefined ? ` (HTTP ${status}${name ? ` ${name}` : ""})` : name ? ` (${name})` : ""

/** What a {@link layout} is made of. */
export interface MessageParts {
  /** What happened, e.g. "Anthropic rate-limited the request (HTTP 429) at <url>". */
  readonly head: string
  /** The detail that came from outside, without its trailing dot. */
  readonly detail: string
  readonly retryAfter?: number | undefined
  /** What to do. */
  readonly advice: string
  /** The request id note, e.g. " (request-id req_1)", or "". */
  readonly id: string
}

/** The message of a provider error: `<head>: <detail>. [The server asks to wait N ms.] <advice><id>`. */
export const layout = (parts: MessageParts): string => {
  const wait = parts.retryAfter !== undefined ? ` The server asks to wait ${Math.ceil(parts.retryAfter)} ms.` : ""
  return `${parts.head}: ${parts.detail}.${wait} ${parts.advice}${parts.id}`
}

/** The optional fields of a {@link providerError}. */
export interface ErrorFields {
  readonly status?: number | undefined
  readonly retryAfter?: number | undefined
  /** Kept when not empty. */
  readonly requestId?: string | undefined
}

/** A {@link ProviderError} with only the optional fields that are set. */
export const providerError = (
  reason: ProviderErrorReason,
  provider: string,
  message: string,
  fields: ErrorFields
): ProviderError =>
  new ProviderError({
    reason,
    provider,
    message,
    ...(fields.status !== undefined ? { status: fields.status } : {}),
    ...(fields.retryAfter !== undefined ? { retryAfter: fields.retryAfter } : {}),
    ...(fields.requestId ? { requestId: fields.requestId } : {})
  })
