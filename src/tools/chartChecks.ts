/**
 * The checks of a `chart` spec against its handle: the columns it names (`shapeProblems`) and
 * their SQL types (`typeProblems`). Each problem names its path in the spec.
 * @internal
 */
import * as Spec from "./chartSpec.js"

/** One problem of a spec: where (`encoding.x.field`) and what. */
export interface Problem {
  readonly path: string
  readonly message: string
}

/** Every field channel of an encoding with its path (`encoding.tooltip.1` for a list). */
export const uses = (encoding: Spec.Encoding): ReadonlyArray<{ readonly path: string; readonly def: Spec.FieldDef }> =>
  Spec.channels.flatMap((name) => {
    const value = encoding[name]
    if (value === undefined) return []
    if (Array.isArray(value)) return value.map((def, i) => ({ path: `encoding.${name}.${i}`, def }))
    return [{ path: `encoding.${name}`, def: value as Spec.FieldDef }]
  })

/** The type Vega-Lite gives a field written without one. */
const typeOf = (def: Spec.FieldDef) =>
  def.type ??
  (def.aggregate !== undefined || def.bin !== undefined
    ? "quantitative"
    : def.timeUnit !== undefined
      ? "temporal"
      : "nominal")

const isNumeric = (sqlType: string) =>
  /^(TINYINT|SMALLINT|INTEGER|BIGINT|HUGEINT|UTINYINT|USMALLINT|UINTEGER|UBIGINT|UHUGEINT|FLOAT|DOUBLE|REAL|DECIMAL|NUMERIC|INT\d*)\b/i.test(
    sqlType
  )
const isTemporal = (sqlType: string) => /^(DATE|TIMESTAMP|TIME)/i.test(sqlType)
const isText = (sqlType: string) => /^(VARCHAR|TEXT|STRING|CHAR)/i.test(sqlType)

/** Problems of the spec that need only the column names: unknown fields, missing channels. */
export const shapeProblems = (input: Spec.Input, columns: ReadonlyArray<string>): Array<Problem> => {
  const problems: Array<Problem> = []
  const fieldUses = uses(input.encoding)
  if (fieldUses.length === 0)
    problems.push({ path: "encoding", message: "no channel is encoded; map a column to x or y" })
  for (const { path, def } of fieldUses) {
    if (def.field === undefined) {
      if (def.aggregate !== "count") {
        problems.push({ path, message: 'needs a "field" (a column), unless it is {"aggregate": "count"}' })
      } else if (def.bin !== undefined || def.timeUnit !== undefined) {
        problems.push({
          path,
          message: "a count without a field cannot be binned or grouped by time; drop bin and timeUnit"
        })
      }
      continue
    }
    if (typeof def.sort === "string" && !["ascending", "descending"].includes(def.sort)) {
      const by = def.sort.replace(/^-/, "") as (typeof Spec.channels)[number]
      if (input.encoding[by] === undefined || path === `encoding.${by}`) {
        problems.push({
          path: `${path}.sort`,
          message: `"${def.sort}" sorts by the ${by} channel${input.encoding[by] === undefined ? ", which is not encoded" : " itself"}; sort by another encoded channel, or "ascending"/"descending"`
        })
      }
    }
    if (columns.includes(def.field)) continue
    const near = columns.find((c) => c.toLowerCase() === def.field!.toLowerCase())
    problems.push({
      path: `${path}.field`,
      message:
        near === undefined
          ? `"${def.field}" is not a column of ${handleLabel(input)}; its columns are ${columns.map((c) => `"${c}"`).join(", ")}`
          : `"${def.field}" is not a column of ${handleLabel(input)}; did you mean "${near}"? (field names are case-sensitive)`
    })
  }
  const mark = typeof input.mark === "string" ? input.mark : input.mark.type
  const has = (name: (typeof Spec.channels)[number]) => input.encoding[name] !== undefined
  for (const facet of ["row", "column"] as const) {
    if (input.encoding[facet]?.aggregate !== undefined) {
      problems.push({
        path: `encoding.${facet}.aggregate`,
        message: `${facet} splits the chart by a field's values; it cannot be aggregated`
      })
    }
  }
  for (const [end, start] of [
    ["x2", "x"],
    ["y2", "y"]
  ] as const) {
    if (has(end) && !has(start)) {
      problems.push({ path: `encoding.${end}`, message: `${end} is where a ${start} range ends; it needs ${start}` })
    }
  }
  if (mark === "arc" && !has("theta")) problems.push({ path: "encoding.theta", message: "an arc mark needs theta" })
  else if (mark === "text" && !has("text")) problems.push({ path: "encoding.text", message: "a text mark needs text" })
  else if (mark !== "arc" && fieldUses.length > 0 && !has("x") && !has("y")) {
    problems.push({ path: "encoding", message: `a ${mark} mark needs x or y` })
  } else if (mark === "boxplot") problems.push(...boxplotProblems(input.encoding))
  return problems
}

/** A boxplot summarises the raw values of one quantitative position field itself. */
const boxplotProblems = (encoding: Spec.Encoding): Array<Problem> => {
  const positions = (["x", "y"] as const).flatMap((name) => {
    const def = encoding[name]
    return def === undefined ? [] : [{ name, def }]
  })
  const aggregated = positions.filter(({ def }) => def.aggregate !== undefined)
  if (aggregated.length > 0) {
    return aggregated.map(({ name }) => ({
      path: `encoding.${name}.aggregate`,
      message: "a boxplot summarises the values itself; drop the aggregate"
    }))
  }
  const continuous = positions.some(
    ({ def }) => def.field !== undefined && typeOf(def) === "quantitative" && def.bin === undefined
  )
  return continuous
    ? []
    : [
        {
          path: "encoding",
          message: "a boxplot needs x or y as a quantitative field (without bin): the values to summarise"
        }
      ]
}

/** Problems of the spec against the columns' SQL types: numbers, dates, bins. */
export const typeProblems = (input: Spec.Input, types: ReadonlyMap<string, string>): Array<Problem> => {
  const problems: Array<Problem> = []
  for (const { path, def } of uses(input.encoding)) {
    const sqlType = def.field === undefined ? undefined : types.get(def.field)
    if (sqlType === undefined) continue
    const type = typeOf(def)
    const counting = def.aggregate !== undefined && Spec.countingAggregates.has(def.aggregate)
    const column = `"${def.field}" is ${sqlType}`
    if (def.aggregate !== undefined && !counting && !isNumeric(sqlType)) {
      problems.push({
        path: `${path}.aggregate`,
        message: `${column}, not a number, so it has no ${def.aggregate}; use "count" or "distinct", or cast it in sql`
      })
    } else if (type === "quantitative" && !counting && !isNumeric(sqlType)) {
      problems.push({
        path: `${path}.type`,
        message: `${column}, not a number: use "nominal" or "ordinal"${isTemporal(sqlType) ? ' or "temporal"' : ""}, or cast it in sql (save_as) and chart that`
      })
    }
    if (type === "temporal" && !counting && !isTemporal(sqlType) && !isText(sqlType)) {
      problems.push({
        path: `${path}.type`,
        message: `${column}: a temporal field needs dates or timestamps (a number would read as milliseconds since 1970); use "ordinal" for years, or make a date in sql (make_date(year, 1, 1))`
      })
    }
    if (def.timeUnit !== undefined && !isTemporal(sqlType) && !isText(sqlType)) {
      problems.push({
        path: `${path}.timeUnit`,
        message: `${column}: only dates and timestamps have a ${def.timeUnit}; drop timeUnit, or make a date in sql`
      })
    }
    if (def.bin !== undefined && def.bin !== false && !isNumeric(sqlType)) {
      problems.push({
        path: `${path}.bin`,
        message: `${column}: only numbers are binned${isTemporal(sqlType) ? '; group dates with timeUnit (e.g. "yearmonth")' : ""}`
      })
    }
  }
  return problems
}

const handleLabel = (input: Spec.Input) => `"${typeof input.data === "string" ? input.data : input.data.name}"`
