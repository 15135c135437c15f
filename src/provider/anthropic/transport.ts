/**
 * The SDK client a layer builds for itself, and how its bytes travel.
 *
 * By default (`transport: "node"`) they go over `node:http` / `node:https` through a `fetch` of
 * this library's (`http/nodeFetch.ts`) that hands the SDK an ordinary `Response`, and the body
 * reader takes the Node stream behind it instead of its web stream, which halves the client's CPU
 * per network read. Its keep-alive pools belong to the layer: they are made when the layer is
 * built and their sockets destroyed when the layer's scope closes. `transport: "fetch"` (or a
 * `fetch` in `clientOptions`) keeps the global `fetch`, whose pool is undici's.
 *
 * Kept rather than `NodeHttpClient.layerNodeHttp` / `FetchHttpClient` from `@effect/platform`:
 * the bench row "anthropic adapter: transport" (`bench/anthropic-adapter.ts`, figures in
 * `bench/README.md`) measures what the library clients cost on the same run.
 *
 * Private to the provider: not re-exported from the package.
 * @internal
 */
import AnthropicSdk, { type ClientOptions } from "@anthropic-ai/sdk"
import { Effect, Redacted, type Scope } from "effect"
import * as NodeFetch from "../http/nodeFetch.js"
import * as Sdk from "../http/sdkClient.js"
import { redactArg, redactor } from "./errors.js"

/** The SDK client options this module sets itself. */
export type SdkOptions = Omit<ClientOptions, "apiKey" | "authToken" | "baseURL" | "maxRetries">

/** What building a client takes. */
export interface ClientSettings {
  readonly apiKey?: Redacted.Redacted<string> | string | undefined
  readonly baseURL?: string | undefined
  readonly clientOptions?: SdkOptions | undefined
  readonly transport?: "node" | "fetch" | undefined
}

/** The key an SDK client holds, if any, as `Redacted`. */
export const keyOf = (client: unknown): Redacted.Redacted<string> | undefined => {
  const apiKey = (client as { readonly apiKey?: unknown }).apiKey
  return typeof apiKey === "string" && apiKey.length > 0 ? Redacted.make(apiKey) : undefined
}

/** The SDK's logger with the key taken out of every line (by token, and credential headers whole). */
const redactingLogger = (logger: Sdk.SdkLogger, key: Redacted.Redacted<string>): Sdk.SdkLogger => {
  const secret = Redacted.value(key)
  if (secret.length === 0) return logger
  const redact = redactor(secret)
  return Sdk.redactingLogger(logger, (arg) => redactArg(redact, arg))
}

const keyGiven = (apiKey: ClientSettings["apiKey"]): Redacted.Redacted<string> | undefined =>
  apiKey === undefined ? undefined : Redacted.isRedacted(apiKey) ? apiKey : Redacted.make(apiKey)

/**
 * An SDK client with the SDK's retries off, its logger redacting the key, and (on the node
 * transport) a connection pool closed with the scope. Returns the key it uses (given, or read
 * by the SDK from the environment) for the errors to redact.
 */
export const makeClient = Effect.fnUntraced(function* (settings: ClientSettings) {
  const given = keyGiven(settings.apiKey)
  const fetch = Sdk.usesNodeTransport(settings) ? yield* NodeFetch.scoped() : undefined
  const client = yield* Effect.sync(
    () =>
      new AnthropicSdk({
        ...settings.clientOptions,
        ...(fetch !== undefined ? { fetch } : {}),
        ...(given !== undefined ? { apiKey: Redacted.value(given) } : {}),
        ...(settings.baseURL !== undefined ? { baseURL: settings.baseURL } : {}),
        maxRetries: 0
      })
  )
  const key = given ?? keyOf(client)
  if (key !== undefined) client.logger = redactingLogger(client.logger, key)
  return { client, key } as const
}) satisfies (
  settings: ClientSettings
) => Effect.Effect<
  { readonly client: AnthropicSdk; readonly key: Redacted.Redacted<string> | undefined },
  never,
  Scope.Scope
>
