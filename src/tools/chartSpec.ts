/**
 * The Vega-Lite subset the `chart` tool accepts, as Effect Schemas: one mark, an encoding of
 * field channels, a title and a size. Anything else (transforms, layers, parameters, expressions,
 * links) is refused by name, so a stored chart holds nothing a page would run but marks over data.
 * @internal
 */
import { Schema } from "effect"

const optional = Schema.optionalKey

/** The Vega-Lite schema a stored chart names. */
export const SCHEMA_URL = "https://vega.github.io/schema/vega-lite/v6.json"

/** Marks the subset draws. */
export const markTypes = [
  "bar",
  "line",
  "area",
  "point",
  "circle",
  "square",
  "tick",
  "rect",
  "rule",
  "arc",
  "text",
  "trail",
  "boxplot"
] as const

/** Encoding channels the subset takes, each a field definition (`tooltip` also a list of them). */
export const channels = [
  "x",
  "y",
  "x2",
  "y2",
  "xOffset",
  "yOffset",
  "color",
  "size",
  "shape",
  "opacity",
  "theta",
  "radius",
  "text",
  "detail",
  "order",
  "row",
  "column",
  "tooltip"
] as const

/** Aggregates that count rows rather than compute over a column's numbers. */
export const countingAggregates: ReadonlySet<string> = new Set(["count", "distinct", "valid", "missing"])

const MarkType = Schema.Literals(markTypes)

/** A CSS colour by name, hex or rgb()/hsl(): nothing else reaches an attribute. */
const Color = Schema.String.check(
  Schema.makeFilter(
    (text: string) =>
      /^(#[0-9a-fA-F]{3,8}|[a-zA-Z]{3,30}|(rgb|rgba|hsl|hsla)\([0-9.,%\s]{1,60}\))$/.test(text) ||
      'expected a CSS colour such as "steelblue", "#4c78a8" or "rgb(76,120,168)"'
  )
)

const between = (minimum: number, maximum: number) => Schema.Number.check(Schema.isBetween({ minimum, maximum }))

const MarkDef = Schema.Union([
  MarkType,
  Schema.Struct({
    type: MarkType,
    tooltip: optional(Schema.Boolean),
    point: optional(Schema.Boolean),
    filled: optional(Schema.Boolean),
    interpolate: optional(
      Schema.Literals(["linear", "monotone", "step", "step-before", "step-after", "basis", "cardinal", "natural"])
    ),
    opacity: optional(between(0, 1)),
    color: optional(Color),
    size: optional(between(0, 10_000)),
    strokeWidth: optional(between(0, 100)),
    innerRadius: optional(between(0, 10_000))
  })
])

const Title = Schema.String.check(Schema.isMaxLength(200))

/** One field definition: the column, how to read it, and how to show it. */
export const FieldDef = Schema.Struct({
  field: optional(Schema.String.check(Schema.isNonEmpty())),
  type: optional(Schema.Literals(["quantitative", "nominal", "ordinal", "temporal"])),
  aggregate: optional(
    Schema.Literals([
      "count",
      "distinct",
      "valid",
      "missing",
      "sum",
      "mean",
      "average",
      "median",
      "min",
      "max",
      "stdev",
      "variance",
      "q1",
      "q3"
    ])
  ),
  bin: optional(
    Schema.Union([
      Schema.Boolean,
      Schema.Struct({ maxbins: Schema.Int.check(Schema.isBetween({ minimum: 2, maximum: 200 })) })
    ])
  ),
  timeUnit: optional(
    Schema.Literals([
      "year",
      "quarter",
      "month",
      "week",
      "date",
      "day",
      "hours",
      "minutes",
      "yearquarter",
      "yearmonth",
      "yearmonthdate",
      "yearweek",
      "monthdate",
      "hoursminutes"
    ])
  ),
  title: optional(Schema.NullOr(Title)),
  sort: optional(
    Schema.Union([
      Schema.Literals([
        "ascending",
        "descending",
        "x",
        "-x",
        "y",
        "-y",
        "color",
        "-color",
        "size",
        "-size",
        "theta",
        "-theta",
        "text",
        "-text"
      ]),
      Schema.Null,
      Schema.Array(Schema.Union([Schema.String, Schema.Number])).check(Schema.isMaxLength(1_000))
    ])
  ),
  stack: optional(Schema.Union([Schema.Boolean, Schema.Null, Schema.Literals(["zero", "normalize", "center"])])),
  scale: optional(
    Schema.Struct({
      type: optional(
        Schema.Literals(["linear", "log", "pow", "sqrt", "symlog", "time", "utc", "ordinal", "band", "point"])
      ),
      zero: optional(Schema.Boolean),
      reverse: optional(Schema.Boolean),
      nice: optional(Schema.Boolean)
    })
  ),
  axis: optional(
    Schema.NullOr(
      Schema.Struct({
        title: optional(Schema.NullOr(Title)),
        labelAngle: optional(between(-360, 360)),
        grid: optional(Schema.Boolean)
      })
    )
  ),
  legend: optional(
    Schema.NullOr(
      Schema.Struct({
        title: optional(Schema.NullOr(Title)),
        orient: optional(Schema.Literals(["left", "right", "top", "bottom", "none"]))
      })
    )
  )
})
/** @internal */
export type FieldDef = typeof FieldDef.Type

const channel = optional(FieldDef)

/** The encoding: which column goes to which channel. */
export const Encoding = Schema.Struct({
  x: channel,
  y: channel,
  x2: channel,
  y2: channel,
  xOffset: channel,
  yOffset: channel,
  color: channel,
  size: channel,
  shape: channel,
  opacity: channel,
  theta: channel,
  radius: channel,
  text: channel,
  detail: channel,
  order: channel,
  row: channel,
  column: channel,
  tooltip: optional(Schema.Union([FieldDef, Schema.Array(FieldDef).check(Schema.isMaxLength(20))]))
})
/** @internal */
export type Encoding = typeof Encoding.Type

const Size = Schema.Int.check(Schema.isBetween({ minimum: 20, maximum: 2_000 }))

/** What the model writes: a Vega-Lite spec whose `data` names a table handle. */
export const Input = Schema.Struct({
  data: Schema.Union([
    Schema.String.annotate({ description: "The table handle to chart." }),
    Schema.Struct({ name: Schema.String.annotate({ description: "The table handle to chart." }) })
  ]),
  mark: MarkDef,
  encoding: Encoding,
  title: optional(Title),
  description: optional(Schema.String.check(Schema.isMaxLength(1_000))),
  width: optional(Size),
  height: optional(Size),
  name: optional(
    Schema.String.annotate({ description: "The handle to keep the chart as (default chart_1, chart_2, …)." })
  )
})
/** @internal */
export type Input = typeof Input.Type

/** What a stored chart says about its data. */
export const Meta = Schema.Struct({
  /** The handle the data came from. */
  handle: Schema.String,
  /** Rows of that handle. */
  rows: Schema.Number,
  /** Rows inlined in the chart (at most the tool's `maxRows`). */
  shown: Schema.Number,
  /** Whether the handle had more rows than the chart holds. */
  cut: Schema.Boolean
})

/** A chart as the `chart` tool stores it: the spec with its data inlined. */
export const Stored = Schema.Struct({
  $schema: Schema.Literal(SCHEMA_URL),
  name: optional(Schema.String),
  title: optional(Title),
  description: optional(Schema.String),
  width: optional(Size),
  height: optional(Size),
  data: Schema.Struct({ values: Schema.Array(Schema.Record(Schema.String, Schema.Unknown)) }),
  mark: MarkDef,
  encoding: Encoding,
  usermeta: Schema.Struct({ dataHarness: Meta })
})
/** @internal */
export type Stored = typeof Stored.Type
