/**
 * Reading a duration option (`timeout: "5 seconds"`) without throwing: the Duration, or the
 * `InvalidOptions` that says why it is not one. The same rules as the agent's timeouts.
 * @internal Not re-exported from the package.
 * @since 0.1.0
 */
import { Duration, Option } from "effect"
import { InvalidOptions } from "../core/HarnessError.js"

const DURATION_FORMS = 'a Duration, milliseconds as a number, or a string like "30 seconds" or "5 minutes"'

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

/** Why the parts of an array or object duration are not finite numbers of known units, if they are not. */
const partsProblem = (value: unknown): string | undefined => {
  // Effect reads parts leniently ({ hours: "two" } and {} are 0 ms, [NaN, 0] too)
  if (Array.isArray(value)) {
    return value.length !== 2 || !value.every(Number.isFinite) ? `not a duration (${describe(value)})` : undefined
  }
  if (typeof value !== "object" || value === null || Duration.isDuration(value)) return undefined
  const parts = Object.entries(value).filter(([, amount]) => amount !== undefined)
  const bad = parts.find(([unit, amount]) => !durationUnits.has(unit) || !Number.isFinite(amount))
  if (parts.length > 0 && bad === undefined) return undefined
  return `not a duration (${bad === undefined ? "an object with no parts" : `${bad[0]}: ${describe(bad[1])}`})`
}

/**
 * A non-negative `Duration.Input` as a Duration, or the `InvalidOptions` naming `option`.
 * @since 0.1.0
 */
export const resolveDuration = (option: string, value: unknown): Duration.Duration | InvalidOptions => {
  const invalid = (why: string) =>
    new InvalidOptions({ option, message: `${option} is ${why}; expected ${DURATION_FORMS}.` })
  if (typeof value === "number" && Number.isNaN(value)) return invalid("NaN")
  const problem = partsProblem(value)
  if (problem !== undefined) return invalid(problem)
  const duration = Duration.fromInput(value as Duration.Input)
  if (Option.isNone(duration) || Number.isNaN(Duration.toMillis(duration.value))) {
    return invalid(`not a duration (${describe(value)})`)
  }
  if (Duration.isNegative(duration.value)) return invalid(`negative (${describe(value)})`)
  return duration.value
}
