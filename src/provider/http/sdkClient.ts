/**
 * What the HTTP providers' SDK clients (`anthropic/transport.ts`, `openai/sdkClient.ts`) share:
 * whether the bytes go over this library's `node:http` fetch or the global `fetch`, the SDK's
 * logger with the key taken out of every line, and what a client says of itself.
 *
 * Private to the providers: not re-exported from the package.
 * @internal
 */

/** How a layer's requests travel: `"node"` (`http/nodeFetch.ts`) or `"fetch"` (the global one). */
export type Transport = "node" | "fetch"

/** What decides the transport: the caller's choice, and a `fetch` of its own in the SDK options. */
export interface TransportSettings {
  readonly transport?: Transport | undefined
  readonly clientOptions?: { readonly fetch?: unknown; readonly fetchOptions?: unknown } | undefined
}

/**
 * Whether Node is told to send through the proxy in `HTTP_PROXY`/`HTTPS_PROXY`
 * (`NODE_USE_ENV_PROXY=1`, Node 24+): its `fetch` honours that and an agent of our own would not,
 * so without an explicit `transport` such a process keeps the global `fetch`.
 */
const envProxyRequested = (): boolean => {
  const env = process.env
  return (
    env.NODE_USE_ENV_PROXY === "1" &&
    [env.HTTPS_PROXY, env.https_proxy, env.HTTP_PROXY, env.http_proxy].some((v) => v !== undefined && v !== "")
  )
}

/**
 * Whether the client sends over the `node:http` transport: on Node, with no `fetch` (or
 * `fetchOptions`) of the caller's, when asked for or by default (unless Node sends through an
 * environment proxy).
 */
export const usesNodeTransport = (settings: TransportSettings): boolean =>
  settings.clientOptions?.fetch === undefined &&
  settings.clientOptions?.fetchOptions === undefined &&
  typeof process !== "undefined" &&
  typeof process.versions?.node === "string" &&
  (settings.transport === "node" || (settings.transport === undefined && !envProxyRequested()))

/** The base URL an SDK client sends to, if it says. */
export const baseURLOf = (client: unknown): string | undefined => {
  const baseURL = (client as { readonly baseURL?: unknown }).baseURL
  return typeof baseURL === "string" ? baseURL : undefined
}

type LogFn = (message: string, ...rest: Array<unknown>) => void

/** The logger both SDKs take (`client.logger`). */
export interface SdkLogger {
  readonly error: LogFn
  readonly warn: LogFn
  readonly info: LogFn
  readonly debug: LogFn
}

/**
 * `logger` with `redact` applied to the message and every argument of each line it logs: the
 * SDKs already hide auth headers, this also covers a response body or message that echoes the
 * key. Runs only for lines that are logged.
 */
export const redactingLogger = (logger: SdkLogger, redact: (arg: unknown) => unknown): SdkLogger => {
  const wrap =
    (level: keyof SdkLogger): LogFn =>
    (message, ...rest) =>
      logger[level](redact(message) as string, ...rest.map(redact))
  return { error: wrap("error"), warn: wrap("warn"), info: wrap("info"), debug: wrap("debug") }
}
