/**
 * Checks of option values shared by the modules that take options (providers, tools, the agent):
 * each returns the value it checked, or the `InvalidOptions` that names the option and says what
 * is accepted, so an option never throws.
 * @internal
 */
import { Duration, Option } from "effect"
import { InvalidOptions } from "./HarnessError.js"

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

/** A short rendering of a value for an error message. */
export const describe = (value: unknown): string => {
  if (typeof value === "string") return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}...` : value)
  if (Array.isArray(value)) return `[${value.map(String).join(", ")}]`
  if (typeof value === "object" && value !== null) return "an object"
  return String(value)
}

/** Why a non-Duration object or a tuple is not a duration, or `undefined` when its parts are fine. */
const partsProblem = (value: unknown): string | undefined => {
  // Effect reads parts leniently ({ hours: "two" } and {} are 0 ms, [NaN, 0] too): they must be
  // finite numbers (an unset part of an object is fine); an infinite limit is "Infinity"
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
 * A non-negative `Duration.Input` as a Duration, or the `InvalidOptions` that says why it is not one.
 * @internal
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

/**
 * `value` when it is a whole number of at least `min`, or the `InvalidOptions` that says so.
 * @internal
 */
export const resolveWholeNumber = (option: string, value: unknown, min = 1): number | InvalidOptions =>
  typeof value === "number" && Number.isInteger(value) && value >= min
    ? value
    : new InvalidOptions({
        option,
        message: `${option} must be a whole number of at least ${min}, not ${describe(value)}.`
      })

/**
 * `value` when it is one of `allowed`, or the `InvalidOptions` that lists them.
 * @internal
 */
export const resolveOneOf = <const A extends string | boolean>(
  option: string,
  value: unknown,
  allowed: ReadonlyArray<A>
): A | InvalidOptions =>
  allowed.includes(value as A)
    ? (value as A)
    : new InvalidOptions({
        option,
        message: `${option} must be ${allowed.map((a) => JSON.stringify(a)).join(" or ")}, not ${describe(value)}.`
      })
