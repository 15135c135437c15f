/**
 * The GenAI metrics' series an ask's trace updates, each made once per set of attributes.
 *
 * @internal
 */
import type { Metric } from "effect"
import { type HistogramSpec, histogram } from "./names.js"

/** At most this many series are kept made (the attributes are low-cardinality; this bounds a misuse). */
const MAX_SERIES = 4096
export const seriesMade = new Map<string, Metric.Metric<number, unknown>>()

/**
 * The series `key` of `spec` (its attributes made by `attributes()` the first time), made once:
 * effect keys a metric's series by its attributes, sorted and JSON-encoded, and caches that key
 * per metric object, so one object per series keeps the work out of every update
 * (`Metric.withAttributes` on a shared metric redid it at each of a turn's five updates).
 */
export const series = (
  spec: HistogramSpec,
  key: string,
  attributes: () => Record<string, string>
): Metric.Metric<number, unknown> => {
  let made = seriesMade.get(key)
  if (made === undefined) {
    made = histogram(spec, attributes())
    if (seriesMade.size < MAX_SERIES) seriesMade.set(key, made)
  }
  return made
}
