/**
 * What one ask runs with: the agent's options resolved and checked once (`Agent.make`), with an
 * ask's own timeouts over them.
 *
 * @internal
 */
import type { Context, Schedule } from "effect"
import { Duration, Option } from "effect"
import { InvalidOptions } from "../core/HarnessError.js"
import type * as Provider from "../provider/Provider.js"
import type * as Tool from "../tools/Tool.js"

/**
 * The per-phase limits as Durations (`Session.Timeouts` resolved); an unset phase has no limit.
 * @internal
 */
export interface Timeouts {
  readonly request?: Duration.Duration | undefined
  readonly firstEvent?: Duration.Duration | undefined
  readonly idle?: Duration.Duration | undefined
  readonly tool?: Duration.Duration | undefined
  readonly turn?: Duration.Duration | undefined
  readonly run?: Duration.Duration | undefined
}

/**
 * The limits a user expects of an HTTP client, so that no ask waits forever by default:
 * `request` 5 minutes until the response headers (undici's `headersTimeout`), `firstEvent`
 * 10 minutes from the request to the first event (the Anthropic SDK's default timeout for a
 * whole request), `idle` 5 minutes between two events (undici's `bodyTimeout`).
 * @internal
 */
export const defaultTimeouts: Timeouts = {
  request: Duration.minutes(5),
  firstEvent: Duration.minutes(10),
  idle: Duration.minutes(5)
}

/**
 * An agent's settings, as the loop reads them.
 * @internal
 */
export interface Config {
  readonly provider: Provider.Service
  readonly system: string | undefined
  readonly tools: ReadonlyArray<Tool.Any>
  // biome-ignore lint/suspicious/noExplicitAny: the captured services of every tool handler
  readonly context: Context.Context<any>
  readonly maxTurns: number
  readonly maxTokens: number | undefined
  readonly cache: boolean
  readonly timeouts: Timeouts
  readonly retry: Schedule.Schedule<unknown, unknown> | undefined
  readonly maxRetryAfter: Duration.Duration
  readonly partialTurn: "keep" | "discard"
  readonly toolConcurrency: number
}

const DURATION_FORMS = 'a Duration, milliseconds as a number, or a string like "30 seconds" or "5 minutes"'

const phases: ReadonlyArray<string> = ["request", "firstEvent", "idle", "tool", "turn", "run"] satisfies ReadonlyArray<
  keyof Timeouts
>

/** The parts of a `Duration.DurationObject`. */
const durationUnits: ReadonlySet<string> = new Set([
  "weeks",
  "days",
  "hours",
  "minutes",
  "seconds",
  "milliseconds",
  "microseconds",
  "nanoseconds"
] satisfies ReadonlyArray<keyof Duration.DurationObject>)

const describe = (value: unknown): string => {
  if (typeof value === "string") return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}...` : value)
  if (Array.isArray(value)) return `[${value.map(String).join(", ")}]`
  if (typeof value === "object" && value !== null) return "an object"
  return String(value)
}

/**
 * A non-negative `Duration.Input` as a Duration, or the `InvalidOptions` that says why it is not one.
 * @internal
 */
export const resolveDuration = (option: string, value: unknown): Duration.Duration | InvalidOptions => {
  const invalid = (why: string) =>
    new InvalidOptions({ option, message: `${option} is ${why}; expected ${DURATION_FORMS}.` })
  if (typeof value === "number" && Number.isNaN(value)) return invalid("NaN")
  // Effect reads parts leniently ({ hours: "two" } and {} are 0 ms, [NaN, 0] too): they must be
  // finite numbers (an unset part of an object is fine); an infinite limit is "Infinity"
  if (Array.isArray(value)) {
    if (value.length !== 2 || !value.every(Number.isFinite)) return invalid(`not a duration (${describe(value)})`)
  } else if (typeof value === "object" && value !== null && !Duration.isDuration(value)) {
    const parts = Object.entries(value).filter(([, amount]) => amount !== undefined)
    const bad = parts.find(([unit, amount]) => !durationUnits.has(unit) || !Number.isFinite(amount))
    if (parts.length === 0 || bad !== undefined) {
      return invalid(
        `not a duration (${bad === undefined ? "an object with no parts" : `${bad[0]}: ${describe(bad[1])}`})`
      )
    }
  }
  const duration = Duration.fromInput(value as Duration.Input)
  if (Option.isNone(duration) || Number.isNaN(Duration.toMillis(duration.value))) {
    return invalid(`not a duration (${describe(value)})`)
  }
  if (Duration.isNegative(duration.value)) return invalid(`negative (${describe(value)})`)
  return duration.value
}

/**
 * User-given timeouts (`Session.Timeouts`) as Durations, unset phases left out; the first invalid
 * one as `InvalidOptions`.
 * @internal
 */
export const resolveTimeouts = (timeouts: unknown): Timeouts | InvalidOptions => {
  const out: Record<string, Duration.Duration> = {}
  if (timeouts === undefined) return out
  if (typeof timeouts !== "object" || timeouts === null) {
    return new InvalidOptions({
      option: "timeouts",
      message: `timeouts must be an object of per-phase limits (${phases.join(", ")}), not ${describe(timeouts)}.`
    })
  }
  for (const [phase, value] of Object.entries(timeouts)) {
    if (value === undefined) continue
    if (!phases.includes(phase)) {
      return new InvalidOptions({
        option: `timeouts.${phase}`,
        message: `timeouts.${phase} is not a timeout phase; the phases are ${phases.join(", ")}.`
      })
    }
    const duration = resolveDuration(`timeouts.${phase}`, value)
    if (duration instanceof InvalidOptions) return duration
    out[phase] = duration
  }
  return out
}

/**
 * The configuration of one ask: the agent's, with the ask's own timeouts over it.
 * @internal
 */
export const withAskTimeouts = (config: Config, timeouts: unknown): Config | InvalidOptions => {
  if (timeouts === undefined) return config
  const resolved = resolveTimeouts(timeouts)
  return resolved instanceof InvalidOptions ? resolved : { ...config, timeouts: { ...config.timeouts, ...resolved } }
}

/**
 * `value` when it is a whole number of at least 1, or the `InvalidOptions` that says so.
 * @internal
 */
export const positiveInteger = (option: string, value: number): number | InvalidOptions =>
  Number.isInteger(value) && value >= 1
    ? value
    : new InvalidOptions({ option, message: `${option} must be a whole number of at least 1, not ${String(value)}.` })
