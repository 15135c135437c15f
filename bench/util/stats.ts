/**
 * Small statistics and reporting helpers shared by the benchmarks.
 * @since 0.1.0
 */
import * as V8 from "node:v8"
import * as Vm from "node:vm"

/**
 * One figure of one contender, as printed in the table and written to `bench/results.json`.
 * @since 0.1.0
 */
export interface Row {
  readonly benchmark: string
  readonly contender: string
  readonly value: number
  readonly unit: string
  /** The target, e.g. `"<= 1.15"`; empty when the figure has none. */
  readonly target?: string | undefined
  /** Whether the target is met; `undefined` when there is none. */
  readonly ok?: boolean | undefined
  /** Raw per-repetition figures or other detail, kept in the JSON only. */
  readonly detail?: unknown
}

/**
 * The median of some numbers (the mean of the middle two for an even count).
 * @since 0.1.0
 */
export const median = (values: ReadonlyArray<number>): number => {
  if (values.length === 0) return Number.NaN
  const sorted = [...values].sort((a, b) => a - b)
  const mid = Math.floor(sorted.length / 2)
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2
}

/**
 * The `p`-th percentile (0..100) by nearest rank.
 * @since 0.1.0
 */
export const percentile = (values: ReadonlyArray<number> | Float64Array, p: number): number => {
  if (values.length === 0) return Number.NaN
  const sorted = Float64Array.from(values).sort()
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))
  return sorted[rank]!
}

/**
 * Rounds for display: 3 significant digits, at most 2 decimals.
 * @since 0.1.0
 */
export const round = (value: number): number => {
  if (!Number.isFinite(value)) return value
  const abs = Math.abs(value)
  if (abs >= 1000) return Math.round(value)
  if (abs >= 100) return Math.round(value * 10) / 10
  return Math.round(value * 100) / 100
}

/**
 * `n` rotations of the contenders, one per repetition, so that none always runs first or last.
 * @since 0.1.0
 */
export const rotations = <A>(contenders: ReadonlyArray<A>, repetitions: number): ReadonlyArray<ReadonlyArray<A>> =>
  Array.from({ length: repetitions }, (_, rep) => contenders.map((_, i) => contenders[(i + rep) % contenders.length]!))

let gcFunction: (() => void) | undefined

/**
 * A full garbage collection, so one contender's garbage is not collected on the next one's time.
 * Uses `global.gc` when node runs with `--expose-gc`, else enables it at run time.
 * @since 0.1.0
 */
export const collectGarbage = (): void => {
  if (gcFunction === undefined) {
    const exposed = (globalThis as { gc?: () => void }).gc
    if (exposed !== undefined) gcFunction = exposed
    else {
      V8.setFlagsFromString("--expose-gc")
      gcFunction = Vm.runInNewContext("gc") as () => void
    }
  }
  gcFunction()
}

/**
 * Prints rows as an aligned text table.
 * @since 0.1.0
 */
export const formatTable = (rows: ReadonlyArray<Row>): string => {
  const header = ["benchmark", "contender", "value", "unit", "target", "ok?"]
  const cells = rows.map((row) => [
    row.benchmark,
    row.contender,
    formatNumber(row.value),
    row.unit,
    row.target ?? "",
    row.ok === undefined ? "" : row.ok ? "yes" : "NO"
  ])
  const widths = header.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i]!.length)))
  const line = (c: ReadonlyArray<string>) =>
    c.map((cell, i) => (i === 2 ? cell.padStart(widths[i]!) : cell.padEnd(widths[i]!))).join("  ")
  return [line(header), widths.map((w) => "-".repeat(w)).join("  "), ...cells.map(line)].join("\n")
}

/**
 * Prints rows as a Markdown table (for the README).
 * @since 0.1.0
 */
export const formatMarkdown = (rows: ReadonlyArray<Row>): string => {
  const out = ["| benchmark | contender | value | unit | target | ok? |", "| --- | --- | ---: | --- | --- | --- |"]
  for (const row of rows) {
    const ok = row.ok === undefined ? "" : row.ok ? "yes" : "**no**"
    out.push(
      `| ${row.benchmark} | ${row.contender} | ${formatNumber(row.value)} | ${row.unit} | ${row.target ?? ""} | ${ok} |`
    )
  }
  return out.join("\n")
}

const formatNumber = (value: number): string => {
  if (!Number.isFinite(value)) return String(value)
  const r = round(value)
  return Math.abs(r) >= 10_000 ? r.toLocaleString("en-US") : String(r)
}
