/**
 * Who may see what: bearer tokens from configuration map to tenants, and each tenant has limits.
 *
 * A request carries its token as `Authorization: Bearer <token>` (what the official Anthropic
 * SDK sends for its `apiKey`), as `x-api-key: <token>` (what curl examples for the Anthropic API
 * send), or as the `dh_token` cookie (for a browser page; set it `HttpOnly; SameSite=Strict`).
 * Tokens are compared by their SHA-256 digest and never written to a log or an error.
 *
 * @example
 * ```ts
 * import { Redacted } from "effect"
 * import { Tenancy } from "data-harness/server"
 * const tenants = Tenancy.tokens([
 *   { tenant: "acme", token: Redacted.make(process.env.ACME_TOKEN!) },
 *   { tenant: "globex", token: "dev-token-globex" }
 * ])
 * ```
 * @since 0.2.0
 */
import { createHash } from "node:crypto"
import { Config, Context, Redacted } from "effect"

/**
 * The tenant a request was authenticated as.
 * @since 0.2.0
 */
export class Tenant extends Context.Service<Tenant, { readonly id: string }>()("data-harness/server/Tenant") {}

/**
 * A token and the tenant it stands for.
 * @since 0.2.0
 */
export interface TokenGrant {
  readonly tenant: string
  readonly token: Redacted.Redacted<string> | string
}

/**
 * The token table: looks a presented token up, by digest.
 * @since 0.2.0
 */
export interface Tokens {
  readonly lookup: (token: Redacted.Redacted<string>) => string | undefined
  /** How many tokens it holds. */
  readonly size: number
}

const digest = (token: string): string => createHash("sha256").update(token).digest("base64")

/**
 * A token table from grants. An empty token is ignored; one token given to two tenants is an
 * error (thrown at start-up, naming the tenants, not the token).
 * @since 0.2.0
 */
export const tokens = (grants: ReadonlyArray<TokenGrant>): Tokens => {
  const byDigest = new Map<string, string>()
  for (const grant of grants) {
    const value = typeof grant.token === "string" ? grant.token : Redacted.value(grant.token)
    if (value.length === 0) continue
    const key = digest(value)
    const other = byDigest.get(key)
    if (other !== undefined && other !== grant.tenant) {
      throw new Error(`The same token is configured for tenants "${other}" and "${grant.tenant}"; give each its own.`)
    }
    byDigest.set(key, grant.tenant)
  }
  return {
    lookup: (token) => {
      const value = Redacted.value(token)
      return value.length === 0 ? undefined : byDigest.get(digest(value))
    },
    size: byDigest.size
  }
}

/**
 * Grants from a config string `tenant=token,tenant2=token2` (read as a secret, so it is redacted
 * wherever Effect shows it); by default from `DATA_HARNESS_TOKENS`.
 * @since 0.2.0
 */
export const grantsConfig = (name = "DATA_HARNESS_TOKENS"): Config.Config<ReadonlyArray<TokenGrant>> =>
  Config.Redacted(name).pipe(
    Config.map((secret) =>
      Redacted.value(secret)
        .split(",")
        .map((pair) => pair.trim())
        .filter((pair) => pair.length > 0)
        .map((pair) => {
          const at = pair.indexOf("=")
          return { tenant: at < 0 ? "" : pair.slice(0, at).trim(), token: Redacted.make(pair.slice(at + 1).trim()) }
        })
        .filter((grant) => grant.tenant.length > 0)
    )
  )

// limits

/**
 * Per-tenant limits. Sizes are bytes.
 * @since 0.2.0
 */
export interface Limits {
  /** Largest upload body (default 256 MiB). */
  readonly maxUploadBytes: number
  /** Largest JSON request body (default 8 MiB). */
  readonly maxRequestBytes: number
  /** Asks a tenant may run at once, session asks and `/v1/messages` together (default 8). */
  readonly maxConcurrentAsks: number
  /** Sessions a tenant may hold (default 100). */
  readonly maxSessions: number
}

/**
 * The default limits.
 * @since 0.2.0
 */
export const defaultLimits: Limits = {
  maxUploadBytes: 256 * 1024 * 1024,
  maxRequestBytes: 8 * 1024 * 1024,
  maxConcurrentAsks: 8,
  maxSessions: 100
}
