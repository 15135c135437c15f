/**
 * Budget limits checked and resolved (wall time in milliseconds).
 *
 * @internal
 */
import { Duration } from "effect"
import { InvalidOptions } from "../core/HarnessError.js"
import { resolveDuration } from "../core/options.js"

/**
 * Limits checked and resolved (wall time in milliseconds).
 * @internal
 */
export interface Resolved {
  readonly usd?: number | undefined
  readonly inputTokens?: number | undefined
  readonly outputTokens?: number | undefined
  readonly toolCpuMs?: number | undefined
  readonly wallTimeMs?: number | undefined
}

const numeric = ["usd", "inputTokens", "outputTokens", "toolCpuMs"] as const

/**
 * `limits` checked: every limit a non-negative number (`wallTime` a duration), and no other key.
 * @internal
 */
export const resolveLimits = (option: string, limits: unknown): Resolved | undefined | InvalidOptions => {
  if (limits === undefined) return undefined
  if (typeof limits !== "object" || limits === null || Array.isArray(limits)) {
    return new InvalidOptions({
      option,
      message: `${option} must be an object of limits (usd, inputTokens, outputTokens, toolCpuMs, wallTime).`
    })
  }
  const out: { -readonly [K in keyof Resolved]: number } = {}
  for (const [key, value] of Object.entries(limits)) {
    if (value === undefined) continue
    if (key === "wallTime") {
      const duration = resolveDuration(`${option}.wallTime`, value)
      if (duration instanceof InvalidOptions) return duration
      out.wallTimeMs = Duration.toMillis(duration)
      continue
    }
    if (!(numeric as ReadonlyArray<string>).includes(key)) {
      return new InvalidOptions({
        option: `${option}.${key}`,
        message: `${option}.${key} is not a budget limit; the limits are usd, inputTokens, outputTokens, toolCpuMs and wallTime.`
      })
    }
    if (typeof value !== "number" || Number.isNaN(value) || value < 0) {
      return new InvalidOptions({
        option: `${option}.${key}`,
        message: `${option}.${key} must be a number of at least 0, not ${String(value)}.`
      })
    }
    out[key as (typeof numeric)[number]] = value
  }
  return out
}
