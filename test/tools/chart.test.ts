import { fileURLToPath } from "node:url"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Exit } from "effect"
import * as fc from "fast-check"
import * as vega from "vega"
import * as vl from "vega-lite"
import { Agent, Data, Mock, type Session, Tool } from "../../src/index.js"
import * as Chart from "../../src/tools/Chart.js"
import * as Sql from "../../src/tools/Sql.js"
import { runEvents, toolResultEvents } from "../utils/events.js"

const fixture = (name: string): string => fileURLToPath(new URL(`../fixtures/data/${name}`, import.meta.url))

/**
 * Asks once in a fresh session prepared by `setup`; the scripted model makes each call in its own
 * turn, then ends. Returns the tool results' text and the session.
 */
const run = (
  setup: (session: Session.Session) => Effect.Effect<unknown, unknown>,
  calls: ReadonlyArray<readonly [string, unknown]>,
  chart: Tool.Tool = Chart.chart
) =>
  Effect.gen(function* () {
    const agent = yield* Agent.make({ dataTools: [Sql.sql, chart] })
    const session = yield* agent.session()
    yield* setup(session)
    const { events, exit } = yield* runEvents(session.askStream("Chart it."))
    assert.isTrue(Exit.isSuccess(exit), "the run completes")
    const results = toolResultEvents(events).map((e) => ({ isError: e.is_error, text: e.content as string }))
    assert.strictEqual(results.length, calls.length)
    return { results, session }
  }).pipe(
    Effect.provide(
      Mock.layer({ turns: [...calls.map(([tool, input]) => Mock.toolCall(tool, input)), Mock.text("done")] })
    )
  )

const putSales = (session: Session.Session) => session.putFile("sales", fixture("sales.csv"))

const bars = {
  data: "sales",
  mark: "bar",
  title: "Units by region",
  encoding: {
    x: { field: "region", type: "nominal", sort: "-y" },
    y: { field: "units", aggregate: "sum", type: "quantitative" }
  }
}

describe("chart", () => {
  it.effect("keeps the spec with the used columns inlined as a handle, and the model reads a short confirmation", () =>
    Effect.gen(function* () {
      const { results, session } = yield* run(putSales, [["chart", bars]])
      const [result] = results
      assert.isFalse(result!.isError, result!.text)
      const confirmation = JSON.parse(result!.text)
      assert.strictEqual(confirmation.chart, "chart_1")
      assert.strictEqual(confirmation.data, "sales")
      assert.strictEqual(confirmation.rows, 20)
      assert.isUndefined(confirmation.cut)
      assert.isBelow(result!.text.length, 300, "the transcript gets a confirmation, not the data")
      const handle = yield* session.data.get("chart_1")
      const spec = Chart.fromHandle(handle!)!
      assert.isDefined(spec, "the handle holds a chart")
      assert.strictEqual(spec.title, "Units by region")
      assert.strictEqual(spec.data.values.length, 20)
      assert.deepStrictEqual(Object.keys(spec.data.values[0]!).sort(), ["region", "units"])
      assert.deepStrictEqual(spec.data.values[0], { region: "north", units: 1 })
      assert.deepStrictEqual(spec.usermeta.dataHarness, { handle: "sales", rows: 20, shown: 20, cut: false })
      // what the page renders: Vega-Lite compiles it and Vega draws one bar per region
      const svg = yield* Effect.promise(() => render(spec))
      assert.strictEqual(svg.match(/aria-roledescription="bar"/g)?.length, 4)
    })
  )

  it.effect("a second chart gets the next name, and `name` chooses one", () =>
    Effect.gen(function* () {
      const { results } = yield* run(putSales, [
        ["chart", bars],
        ["chart", { ...bars, name: "by_region" }],
        ["chart", bars]
      ])
      assert.deepStrictEqual(
        results.map((r) => JSON.parse(r.text).chart),
        ["chart_1", "by_region", "chart_2"]
      )
    })
  )

  it.effect("charts a query result saved with sql, and a count needs no field", () =>
    Effect.gen(function* () {
      const { results, session } = yield* run(putSales, [
        ["sql", { query: "SELECT date, sum(units) AS units FROM sales GROUP BY ALL ORDER BY date", save_as: "daily" }],
        [
          "chart",
          {
            data: { name: "daily" },
            mark: { type: "line", point: true },
            encoding: { x: { field: "date", type: "temporal" }, y: { field: "units", type: "quantitative" } }
          }
        ],
        [
          "chart",
          { data: "sales", mark: "arc", encoding: { theta: { aggregate: "count" }, color: { field: "region" } } }
        ]
      ])
      assert.isFalse(results[1]!.isError, results[1]!.text)
      assert.isFalse(results[2]!.isError, results[2]!.text)
      const line = Chart.fromHandle((yield* session.data.get("chart_1"))!)!
      assert.strictEqual(line.data.values[0]!.date, "2024-01-01")
      assert.include(yield* Effect.promise(() => render(line)), "<path")
    })
  )

  it.effect("a spec that does not fit the data is one error result naming every problem by its path", () =>
    Effect.gen(function* () {
      const { results, session } = yield* run(putSales, [
        [
          "chart",
          {
            data: "sales",
            mark: "bar",
            encoding: {
              x: { field: "Region", type: "nominal" },
              y: { field: "revenue", type: "quantitative" },
              color: { field: "product", type: "quantitative" },
              column: { field: "units", type: "temporal" },
              size: { field: "region", aggregate: "sum" }
            }
          }
        ]
      ])
      const [result] = results
      assert.isTrue(result!.isError)
      assert.include(result!.text, "InvalidChart")
      assert.include(result!.text, 'encoding.x.field: "Region" is not a column of "sales"; did you mean "region"?')
      assert.include(
        result!.text,
        'encoding.y.field: "revenue" is not a column of "sales"; its columns are "date", "region", "product", "units", "price"'
      )
      assert.notInclude(result!.text, "encoding.color", "type problems wait until the fields exist")
      assert.strictEqual(yield* session.data.get("chart_1"), undefined, "nothing is kept")
      const typed = yield* run(putSales, [
        [
          "chart",
          {
            data: "sales",
            mark: "bar",
            encoding: {
              x: { field: "region" },
              y: { field: "product", type: "quantitative" },
              column: { field: "units", type: "temporal" },
              size: { field: "region", aggregate: "sum" },
              color: { field: "date", bin: true }
            }
          }
        ]
      ])
      const text = typed.results[0]!.text
      assert.include(text, 'encoding.y.type: "product" is VARCHAR, not a number: use "nominal" or "ordinal"')
      assert.include(text, 'encoding.column.type: "units" is BIGINT: a temporal field needs dates or timestamps')
      assert.include(text, 'encoding.size.aggregate: "region" is VARCHAR, not a number, so it has no sum')
      assert.include(text, 'encoding.color.bin: "date" is DATE: only numbers are binned; group dates with timeUnit')
      assert.include(text, "Fix the spec and call chart again.")
    })
  )

  it.effect("what is outside the supported subset is refused by the schema, naming the property", () =>
    Effect.gen(function* () {
      const { results } = yield* run(putSales, [
        ["chart", { ...bars, mark: "pie" }],
        ["chart", { ...bars, transform: [{ filter: "datum.units > 1" }] }],
        ["chart", { ...bars, encoding: { x: { field: "region", href: "javascript:alert(1)" } } }],
        ["chart", { ...bars, mark: { type: "bar", color: "url(javascript:x)" } }]
      ])
      for (const result of results) {
        assert.isTrue(result.isError)
        assert.include(result.text, 'Invalid input for tool "chart"')
      }
      assert.include(results[0]!.text, '["mark"]')
      assert.include(results[1]!.text, '["transform"]')
      assert.include(results[2]!.text, '["encoding"]["x"]["href"]')
      assert.include(results[3]!.text, "expected a CSS colour")
    })
  )

  it.effect("a handle that is missing or not a table is named, with the tables there are", () =>
    Effect.gen(function* () {
      const { results } = yield* run(
        (session) => Effect.andThen(putSales(session), session.put("notes", { a: 1 })),
        [
          ["chart", { ...bars, data: "sale" }],
          ["chart", { ...bars, data: "notes" }]
        ]
      )
      assert.include(results[0]!.text, 'data: there is no handle "sale"; the table handles are "sales"')
      assert.include(results[1]!.text, 'data: "notes" is an object, not a table')
    })
  )

  it.effect("holds at most maxRows rows and tells the model the chart is cut", () =>
    Effect.gen(function* () {
      const { results, session } = yield* run(putSales, [["chart", bars]], Chart.make({ maxRows: 7 }))
      const confirmation = JSON.parse(results[0]!.text)
      assert.strictEqual(confirmation.rows, 7)
      assert.include(confirmation.cut, "sales has 20 rows; the chart holds its first 7")
      const spec = Chart.fromHandle((yield* session.data.get("chart_1"))!)!
      assert.strictEqual(spec.data.values.length, 7)
      assert.deepStrictEqual(spec.usermeta.dataHarness, { handle: "sales", rows: 20, shown: 7, cut: true })
    })
  )

  it.effect("a put table with dotted column names is charted with the fields escaped", () =>
    Effect.gen(function* () {
      const rows = [
        { "a.b": "x", "n[0]": 1 },
        { "a.b": "y", "n[0]": 2 }
      ]
      const { results, session } = yield* run(
        (session) => session.put("odd", rows),
        [
          [
            "chart",
            { data: "odd", mark: "bar", encoding: { x: { field: "a.b" }, y: { field: "n[0]", type: "quantitative" } } }
          ]
        ]
      )
      assert.isFalse(results[0]!.isError, results[0]!.text)
      const spec = Chart.fromHandle((yield* session.data.get("chart_1"))!)!
      assert.strictEqual(spec.encoding.x!.field, "a\\.b")
      assert.strictEqual(spec.encoding.y!.field, "n\\[0\\]")
      const svg = yield* Effect.promise(() => render(spec))
      assert.strictEqual(svg.match(/aria-roledescription="bar"/g)?.length, 2)
      assert.include(svg, "X-axis titled 'a.b'", "titles show the column's name")
    })
  )

  it("an invalid maxRows is reported by Tool.validate", () => {
    const invalid = Tool.validate([Chart.make({ maxRows: 0 })])
    assert.strictEqual(invalid?.option, "chart.maxRows")
    assert.isUndefined(Tool.validate([Chart.chart]))
  })

  it.effect("fromHandle takes only what the chart tool makes: nothing beyond the subset reaches a page", () =>
    Effect.gen(function* () {
      const { session } = yield* run(putSales, [["chart", bars]])
      const handle = (yield* session.data.get("chart_1"))!
      const spec = Chart.fromHandle(handle)!
      assert.isDefined(spec)
      const tampered = (extra: object) => Chart.fromHandle({ ...handle, value: { ...spec, ...extra } })
      assert.isUndefined(tampered({ transform: [{ calculate: "alert(1)", as: "x" }] }))
      assert.isUndefined(tampered({ encoding: { ...spec.encoding, href: { field: "region" } } }))
      assert.isUndefined(tampered({ params: [{ name: "p", expr: "1" }] }))
      assert.isUndefined(Chart.fromHandle({ ...handle, value: { a: 1 } }))
    })
  )
})

// every spec the tool accepts draws

const columns = ["cat", "n", "x", "d", "s"] as const
const table = Array.from({ length: 30 }, (_, i) => ({
  cat: ["a", "b", "c"][i % 3]!,
  n: i,
  x: (i * 37) % 11,
  d: new Date(Date.UTC(2024, i % 12, 1 + (i % 27))),
  s: ["low", "mid", "high"][i % 3]!
}))

/** Mostly absent: a spec sets a few options, not all of them. */
const sometimes = <A>(arb: fc.Arbitrary<A>, weight = 1) =>
  fc.oneof({ arbitrary: fc.constant(undefined), weight: 8 }, { arbitrary: arb, weight: weight * 2 })

const defined = <T extends object>(value: T) =>
  Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>

/** How a field may be shown: sort, stack, scale, titles. */
const presentation = fc.record({
  sort: sometimes(fc.constantFrom("-y", "ascending", "descending", "x")),
  stack: sometimes(fc.constantFrom("normalize", "zero", null)),
  scale: sometimes(fc.constantFrom({ zero: false }, { type: "sqrt" as const }, { type: "log" as const })),
  title: sometimes(fc.constantFrom("A title", null)),
  axis: sometimes(fc.constantFrom({ labelAngle: -45 }, { title: null, grid: false }, null)),
  legend: sometimes(fc.constantFrom({ orient: "bottom" as const }, null))
})

/** A field that fits its column, as a careful model writes it. */
const fitting = fc.oneof(
  fc.record({ field: fc.constantFrom("cat", "s"), type: fc.constantFrom("nominal", "ordinal") }),
  fc.record({
    field: fc.constantFrom("n", "x"),
    type: fc.constantFrom("quantitative", "ordinal"),
    aggregate: sometimes(fc.constantFrom("sum", "mean", "max", "median")),
    bin: sometimes(fc.oneof(fc.constant(true), fc.record({ maxbins: fc.integer({ min: 2, max: 30 }) })))
  }),
  fc.record({
    field: fc.constant("d"),
    type: fc.constant("temporal"),
    timeUnit: sometimes(fc.constantFrom("yearmonth", "month"))
  }),
  fc.record({ aggregate: fc.constant("count"), type: sometimes(fc.constant("quantitative")) })
)

/** Any combination, as a careless one might. */
const careless = fc.record({
  field: sometimes(fc.constantFrom(...columns), 16),
  type: sometimes(fc.constantFrom("quantitative", "nominal", "ordinal", "temporal"), 8),
  aggregate: sometimes(fc.constantFrom("count", "sum", "mean", "max", "distinct", "median")),
  bin: sometimes(fc.oneof(fc.constant(true), fc.record({ maxbins: fc.integer({ min: 2, max: 30 }) }))),
  timeUnit: sometimes(fc.constantFrom("yearmonth", "month", "year"))
})

const fieldDef = fc
  .tuple(fc.oneof({ arbitrary: fitting, weight: 4 }, { arbitrary: careless, weight: 1 }), presentation)
  .map(([field, shown]) => defined({ ...field, ...shown }))

const specArbitrary = fc
  .record({
    data: fc.constant("t"),
    mark: fc.oneof(
      fc.constantFrom(
        "bar",
        "line",
        "area",
        "point",
        "circle",
        "tick",
        "rect",
        "rule",
        "arc",
        "text",
        "trail",
        "boxplot"
      ),
      fc
        .record({
          type: fc.constantFrom("bar", "line", "point", "area", "arc", "circle", "text", "trail"),
          tooltip: sometimes(fc.boolean()),
          point: sometimes(fc.boolean()),
          filled: sometimes(fc.boolean()),
          interpolate: sometimes(fc.constantFrom("monotone", "step", "linear")),
          opacity: sometimes(fc.double({ min: 0, max: 1, noNaN: true })),
          color: sometimes(fc.constantFrom("steelblue", "#e45756", "rgb(76, 120, 168)")),
          size: sometimes(fc.integer({ min: 0, max: 400 })),
          innerRadius: sometimes(fc.integer({ min: 0, max: 80 }))
        })
        .map(defined)
    ),
    encoding: fc
      .record({
        x: sometimes(fieldDef, 12),
        y: sometimes(fieldDef, 12),
        color: sometimes(fieldDef, 2),
        size: sometimes(fieldDef),
        theta: sometimes(fieldDef),
        text: sometimes(fieldDef),
        row: sometimes(fieldDef),
        x2: sometimes(fieldDef),
        y2: sometimes(fieldDef, 0.5),
        xOffset: sometimes(fieldDef, 0.5),
        yOffset: sometimes(fieldDef, 0.5),
        shape: sometimes(fieldDef, 0.5),
        opacity: sometimes(fieldDef, 0.5),
        radius: sometimes(fieldDef, 0.5),
        detail: sometimes(fieldDef, 0.5),
        order: sometimes(fieldDef, 0.5),
        column: sometimes(fieldDef, 0.5),
        tooltip: sometimes(fc.oneof(fieldDef, fc.array(fieldDef, { maxLength: 2 })))
      })
      .map(defined),
    title: sometimes(fc.constant("Chart"))
  })
  .map(defined)

const context = (store: Data.Store): Tool.Context => ({
  toolUseId: "toolu_1",
  reveal: () => Effect.void,
  data: store,
  setAnswer: () => Effect.void
})

/** Vega-Lite compiles the spec (errors thrown, not logged) and Vega renders it to SVG. */
const render = async (spec: unknown): Promise<string> => {
  const errors: Array<string> = []
  const logger = {
    level: () => logger,
    warn: () => logger,
    info: () => logger,
    debug: () => logger,
    error: (...m: ReadonlyArray<unknown>) => {
      errors.push(m.join(" "))
      return logger
    }
  }
  const compiled = vl.compile(spec as vl.TopLevelSpec, { logger: logger as never })
  const view = new vega.View(vega.parse(compiled.spec), { renderer: "none" })
  view.logger({ ...logger, error: (...m: ReadonlyArray<unknown>) => errors.push(m.join(" ")) } as never)
  try {
    const svg = await view.toSVG()
    if (errors.length > 0) throw new Error(errors.join("; "))
    return svg
  } finally {
    view.finalize()
  }
}

describe("chart specs", () => {
  it.live("every spec the tool accepts compiles with Vega-Lite and renders with Vega", () =>
    Effect.scoped(
      Effect.gen(function* () {
        const store = yield* Data.makeStore
        yield* store.put("t", table)
        const tool = Chart.make({ maxRows: 100 })
        let accepted = 0
        let refused = 0
        yield* Effect.promise(() =>
          fc.assert(
            fc.asyncProperty(specArbitrary, async (input) => {
              const outcome = await Effect.runPromise(tool.call(input, context(store)))
              if (outcome.isError) {
                refused++
                return
              }
              accepted++
              const name = JSON.parse(outcome.content).chart as string
              const handle = await Effect.runPromise(store.get(name))
              const spec = Chart.fromHandle(handle!)
              assert.isDefined(spec, "what the tool kept is a chart")
              await Effect.runPromise(store.remove(name))
              await render(spec)
            }),
            { numRuns: Number(process.env.CHART_RUNS ?? 150), seed: Number(process.env.CHART_SEED ?? 20261121) }
          )
        )
        // the property says something only if both kinds happen often
        assert.isAbove(accepted, 30, `accepted ${accepted}`)
        assert.isAbove(refused, 30, `refused ${refused}`)
      })
    )
  )
})
