/**
 * The `chart` tool: a Vega-Lite chart over a table handle, shown to the user.
 *
 * The model writes a Vega-Lite spec whose `data` names a table handle (`"data": "sales"` or
 * `{"name": "sales"}`). The spec is checked against a supported subset (one `mark`; an `encoding`
 * of field channels — `x`, `y`, `color`, `theta`, `tooltip`, … — with `type`, `aggregate`, `bin`,
 * `timeUnit`, `sort`, `stack`, `scale`, `axis`, `legend`; a `title`, `width`, `height`), then
 * against the handle: every field must be one of its columns, a quantitative field a number, a
 * temporal one a date. Whatever is wrong comes back as one `is_error` result naming each problem
 * by its path, so the model can fix its spec.
 *
 * The data is inlined on the server: the columns the chart uses, at most `maxRows` rows (default
 * 5,000; the model is told when the handle had more). The chart is kept as a handle of its own
 * (`chart_1`, `chart_2`, … or the spec's `name`) whose value is the complete Vega-Lite spec, and
 * the model reads only a short confirmation naming it, so the transcript stays small however
 * many rows the chart holds. A page shows the chart by reading that handle ({@link fromHandle}).
 *
 * @example
 * ```ts
 * import { Agent, Chart, DataTools } from "data-harness"
 * const agent = yield* Agent.make({ dataTools: [...DataTools.all, Chart.chart] })
 * // the model calls: {"data": "sales", "mark": "bar",
 * //   "encoding": {"x": {"field": "region", "type": "nominal"}, "y": {"field": "units", "aggregate": "sum"}}}
 * // and reads: {"chart":"chart_1","data":"sales","rows":200,"note":"The chart is shown to the user: ..."}
 * ```
 * @since 0.2.0
 */
import { Effect, Schema } from "effect"
import { InvalidOptions } from "../core/HarnessError.js"
import type * as Data from "../data/Data.js"
import { quoteIdentifier } from "../data/duckdb/sqlText.js"
import * as Checks from "./chartChecks.js"
import * as Spec from "./chartSpec.js"
import * as Tool from "./Tool.js"

// models

/**
 * A chart as the tool stores it in its handle: the Vega-Lite spec with `data.values` inlined and
 * `usermeta.dataHarness` saying where the data came from (`handle`, `rows`, `shown`, `cut`).
 * @since 0.2.0
 */
export const Stored = Spec.Stored
/** @since 0.2.0 */
export type Stored = Spec.Stored

/**
 * One problem of a spec: where (`encoding.x.field`) and what.
 * @since 0.2.0
 */
export type Problem = Checks.Problem

/**
 * The spec cannot be drawn over that handle; `problems` names each reason by its path.
 * @since 0.2.0
 */
export class InvalidChart extends Schema.TaggedError<InvalidChart>()("InvalidChart", {
  message: Schema.String,
  problems: Schema.Array(Schema.Struct({ path: Schema.String, message: Schema.String }))
}) {
  /** Never retryable: the same spec fails the same way; fix it. */
  get isRetryable(): boolean {
    return false
  }
}

const invalid = (problems: ReadonlyArray<Problem>) =>
  new InvalidChart({
    problems,
    message: `${problems.map((p) => `${p.path}: ${p.message}`).join("\n")}\nFix the spec and call chart again.`
  })

/**
 * Options of {@link make}.
 * @since 0.2.0
 */
export interface Options {
  /** Most rows one chart holds (default 5,000); a larger handle is cut to its first rows and the model is told. */
  readonly maxRows?: number | undefined
}

const DEFAULT_MAX_ROWS = 5_000

/** A Vega-Lite field name as data keys are read: dots and brackets escaped, or they would mean nesting. */
const escapeField = (field: string) => field.replace(/[.[\]\\]/g, (c) => `\\${c}`)

const escapeFields = (encoding: Spec.Encoding): Spec.Encoding => {
  const escaped = (def: Spec.FieldDef) => {
    if (def.field === undefined) return def
    const field = escapeField(def.field)
    // the axis or legend title would otherwise show the backslashes
    return field === def.field || def.title !== undefined ? { ...def, field } : { ...def, field, title: def.field }
  }
  const out: Record<string, unknown> = {}
  for (const [name, value] of Object.entries(encoding)) {
    out[name] = Array.isArray(value) ? value.map(escaped) : escaped(value as Spec.FieldDef)
  }
  return out as Spec.Encoding
}

const nextChartName = (handles: ReadonlyArray<Data.Handle>): string => {
  let max = 0
  for (const handle of handles) {
    const match = /^chart_(\d+)$/i.exec(handle.name)
    if (match !== null) max = Math.max(max, Number(match[1]))
  }
  return `chart_${max + 1}`
}

// the call

/** The handle to chart, or why it cannot be charted. */
const tableHandle = (store: Data.Store, input: Spec.Input) =>
  Effect.gen(function* () {
    const name = typeof input.data === "string" ? input.data : input.data.name
    const handle = yield* store.get(name)
    if (handle === undefined) {
      const tables = (yield* store.list).filter((h) => h.snapshot.kind === "table").map((h) => `"${h.name}"`)
      return yield* invalid([
        {
          path: "data",
          message: `there is no handle "${name}"; ${tables.length === 0 ? "there are no table handles yet" : `the table handles are ${tables.join(", ")}`}`
        }
      ])
    }
    if (handle.snapshot.kind !== "table") {
      return yield* invalid([
        {
          path: "data",
          message: `"${handle.name}" is ${/^[aeiou]/.test(handle.snapshot.kind) ? "an" : "a"} ${handle.snapshot.kind}, not a table: chart a table (make one with sql save_as, or save an array of records in javascript)`
        }
      ])
    }
    return { handle, snapshot: handle.snapshot }
  })

const draw = (store: Data.Store, input: Spec.Input, maxRows: number) =>
  Effect.gen(function* () {
    const { handle, snapshot } = yield* tableHandle(store, input)
    const shape = Checks.shapeProblems(
      input,
      snapshot.columns.map((c) => c.name)
    )
    if (shape.length > 0) return yield* invalid(shape)
    const fields = [
      ...new Set(
        Checks.uses(input.encoding)
          .map((u) => u.def.field)
          .filter((f) => f !== undefined)
      )
    ]
    const select = fields.length === 0 ? "1 AS _" : fields.map(quoteIdentifier).join(", ")
    const result = yield* store.query(`SELECT ${select} FROM ${quoteIdentifier(handle.name)} LIMIT ${maxRows + 1}`, {
      maxRows: maxRows + 1
    })
    const typed = Checks.typeProblems(input, new Map(result.columns.map((c) => [c.name, c.type])))
    if (typed.length > 0) return yield* invalid(typed)
    const cut = result.rows.length > maxRows
    const values = (cut ? result.rows.slice(0, maxRows) : result.rows).map((row) => (fields.length === 0 ? {} : row))
    const total = Math.max(snapshot.rows, values.length)
    const mark = typeof input.mark === "string" ? input.mark : input.mark.type
    const name = yield* store.put(
      input.name ?? nextChartName(yield* store.list),
      {
        $schema: Spec.SCHEMA_URL,
        ...(input.title === undefined ? {} : { title: input.title }),
        ...(input.description === undefined ? {} : { description: input.description }),
        ...(input.width === undefined ? {} : { width: input.width }),
        ...(input.height === undefined ? {} : { height: input.height }),
        data: { values },
        mark: input.mark,
        encoding: escapeFields(input.encoding),
        usermeta: { dataHarness: { handle: handle.name, rows: total, shown: values.length, cut } }
      } satisfies Omit<Stored, "name">,
      { description: `A ${mark} chart of ${handle.name} (Vega-Lite), shown to the user.` }
    )
    return JSON.stringify({
      chart: name,
      data: handle.name,
      rows: values.length,
      ...(cut
        ? {
            cut: `${handle.name} has ${total} rows; the chart holds its first ${maxRows} (the chart tool's limit), so aggregates over it are partial. Aggregate in sql first (save_as) and chart that result to show all of it.`
          }
        : {}),
      note: `The ${mark} chart is shown to the user (kept as handle "${name}"). Describe what it shows in your answer.`
    })
  })

// constructors

/**
 * Builds the `chart` tool with another row limit. An invalid option is recorded on the tool:
 * `Tool.validate` reports it as `InvalidOptions`, and a call answers with it.
 * @since 0.2.0
 */
export const make = (options: Options = {}): Tool.Tool => {
  const maxRows = options.maxRows ?? DEFAULT_MAX_ROWS
  const bad = typeof maxRows !== "number" || !Number.isInteger(maxRows) || maxRows < 1
  const tool = Tool.make("chart", {
    description:
      'Show the user a chart: a Vega-Lite spec whose data is a table handle ("data": "sales"). Supported: one ' +
      `mark (${Spec.markTypes.join(", ")}); encoding channels ${Spec.channels.join(", ")}, each {field, type ` +
      "(quantitative|nominal|ordinal|temporal), aggregate, bin, timeUnit, sort, stack, scale, axis, legend, title}; " +
      "title, width, height. No transforms: shape the data with sql first (save_as) and chart that handle. " +
      `Fields must be columns of the handle. The chart holds at most ${bad ? DEFAULT_MAX_ROWS : maxRows} rows. ` +
      "You get back the chart's handle name; the user sees the chart.",
    parameters: Spec.Input,
    handler: (input, context) => draw(context.data, input, bad ? DEFAULT_MAX_ROWS : maxRows)
  })
  return bad
    ? Tool.withInvalidOptions(
        tool,
        new InvalidOptions({
          option: "chart.maxRows",
          message: `chart.maxRows is ${String(maxRows)}; expected a whole number of at least 1.`
        })
      )
    : tool
}

/**
 * The `chart` tool with the default limit (5,000 rows per chart).
 * @since 0.2.0
 */
export const chart: Tool.Tool = make()

const decodeStored = Schema.decodeUnknownOption(Spec.Stored, { onExcessProperty: "error" })

/**
 * The chart a handle holds, when it is one the `chart` tool made (its value decodes as
 * {@link Stored}, with nothing beyond the subset); otherwise `undefined`. What a page renders.
 *
 * @example
 * ```ts
 * const handle = yield* session.data.get("chart_1")
 * const spec = handle === undefined ? undefined : Chart.fromHandle(handle)
 * ```
 * @since 0.2.0
 */
export const fromHandle = (handle: Data.Handle): Stored | undefined => {
  const decoded = decodeStored(handle.value)
  return decoded._tag === "Some" ? decoded.value : undefined
}
