/**
 * Builds the `openai` SDK client the provider sends through: the `node:http` transport by default,
 * the SDK's own retries off, no environment variable read behind the caller's back (the SDK would
 * read `OPENAI_API_KEY`, `OPENAI_BASE_URL`, `OPENAI_ORG_ID` and `OPENAI_PROJECT_ID` and send them
 * to whatever server it talks to), no `Authorization` header for a server without a key, and a
 * logger that takes the key out of every line.
 *
 * The transport choice and the logger wrapper are shared with the Anthropic provider
 * (`http/sdkClient.ts`).
 * @internal
 */

import { Effect, Redacted, type Scope } from "effect"
import OpenAISdk, { type ClientOptions } from "openai"
import * as NodeFetch from "../http/nodeFetch.js"
import * as Sdk from "../http/sdkClient.js"
import type { Preset } from "./Preset.js"

/** The key the SDK is built with when the server takes none: its `Authorization` header is removed. */
const noKey = "no-key"

/**
 * The API key a client holds, if it holds one.
 * @internal
 */
export const keyOf = (client: unknown): Redacted.Redacted<string> | undefined => {
  const apiKey = (client as { readonly apiKey?: unknown }).apiKey
  return typeof apiKey === "string" && apiKey.length > 0 && apiKey !== noKey ? Redacted.make(apiKey) : undefined
}

/**
 * How the client should be built.
 * @internal
 */
export interface ClientSetup {
  readonly preset: Preset
  readonly baseURL: string
  readonly key: Redacted.Redacted<string> | undefined
  readonly clientOptions?: Omit<ClientOptions, "apiKey" | "baseURL" | "maxRetries"> | undefined
  readonly transport?: Sdk.Transport | undefined
}

/**
 * The error object of an error body that does not have OpenAI's `{ "error": { ... } }` shape, in
 * that shape: vLLM's top-level `{ "object": "error", "message", "type", "code" }`, FastAPI's
 * `{ "detail": ... }`, or `{ "error": "text" }`. `undefined` when the body needs nothing.
 */
const errorObjectOf = (body: unknown): Record<string, unknown> | undefined => {
  if (body === null || typeof body !== "object" || Array.isArray(body)) return undefined
  const fields = body as Record<string, unknown>
  if (typeof fields.error === "string") return { message: fields.error }
  if (fields.error != null) return undefined
  if (typeof fields.message === "string") return fields
  if (fields.detail !== undefined) {
    return { message: typeof fields.detail === "string" ? fields.detail : JSON.stringify(fields.detail) }
  }
  return undefined
}

/**
 * `fetch` with error bodies in OpenAI's shape, so the SDK's error (which reads only `error` of a
 * JSON body) carries the server's message. Successful responses pass through untouched.
 */
const withErrorBodies =
  (fetch: typeof globalThis.fetch): typeof globalThis.fetch =>
  async (input, init) => {
    const response = await fetch(input, init)
    if (response.status < 400) return response
    const text = await response.text()
    let error: Record<string, unknown> | undefined
    try {
      error = errorObjectOf(JSON.parse(text))
    } catch {
      error = undefined
    }
    const init2 = { status: response.status, statusText: response.statusText, headers: response.headers }
    return new Response(error === undefined ? text : JSON.stringify({ error }), init2)
  }

const scrubArg = (secret: string, arg: unknown): unknown => {
  if (typeof arg === "string") return arg.includes(secret) ? arg.split(secret).join("<redacted>") : arg
  if (arg === null || typeof arg !== "object") return arg
  try {
    const text = JSON.stringify(arg)
    return text?.includes(secret) ? JSON.parse(text.split(secret).join("<redacted>")) : arg
  } catch {
    return arg
  }
}

/** The SDK's logger with the key taken out of every line it logs. */
const scrubbingLogger = (logger: Sdk.SdkLogger, key: Redacted.Redacted<string>): Sdk.SdkLogger => {
  const secret = Redacted.value(key)
  if (secret.length === 0) return logger
  return Sdk.redactingLogger(logger, (arg) => scrubArg(secret, arg))
}

/**
 * A new SDK client for `setup`; its `node:http` pool (the default transport) is closed with the
 * scope.
 * @internal
 */
export const make = (setup: ClientSetup): Effect.Effect<OpenAISdk, never, Scope.Scope> =>
  Effect.map(Sdk.usesNodeTransport(setup) ? NodeFetch.scoped() : Effect.succeed(undefined), (fetch) =>
    withFetch(setup, fetch ?? setup.clientOptions?.fetch ?? globalThis.fetch)
  )

const withFetch = (setup: ClientSetup, fetch: typeof globalThis.fetch): OpenAISdk => {
  const { preset, key } = setup
  const openai = preset.name === "openai"
  const client = new OpenAISdk({
    ...setup.clientOptions,
    fetch: withErrorBodies(fetch),
    apiKey: key !== undefined ? Redacted.value(key) : noKey,
    // the SDK would read these from the environment: only OpenAI's own preset sends them
    organization: openai ? (setup.clientOptions?.organization ?? undefined) : null,
    project: openai ? (setup.clientOptions?.project ?? undefined) : null,
    ...(key === undefined ? { defaultHeaders: { ...setup.clientOptions?.defaultHeaders, Authorization: null } } : {}),
    baseURL: setup.baseURL,
    maxRetries: 0
  })
  if (key !== undefined) client.logger = scrubbingLogger(client.logger, key)
  return client
}
