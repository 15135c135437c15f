/**
 * The scripted analyst: an offline stand-in for a model that works the session's real data, so the
 * page (and `npm run serve`) can be tried without an API key. Each ask it lists the handles, totals
 * the first table's first numeric column by its first text column with real SQL (kept as a
 * handle), charts that result with the `chart` tool, and answers with what the query returned.
 * @internal
 */
import type { Message, Mock } from "../index.js"

interface Column {
  readonly name: string
  readonly type: string
}

interface Listed {
  readonly name: string
  readonly kind?: string
  readonly columns?: ReadonlyArray<Column>
}

interface Inline {
  readonly columns: ReadonlyArray<string>
  readonly rows: ReadonlyArray<ReadonlyArray<unknown>>
}

const NUMERIC = /^(TINYINT|SMALLINT|INTEGER|BIGINT|HUGEINT|UBIGINT|UINTEGER|DOUBLE|FLOAT|REAL|DECIMAL|integer|number)/
const TEXT = /^(VARCHAR|string)/

const ident = (name: string) => `"${name.replaceAll('"', '""')}"`
const slug = (name: string) => name.replace(/[^A-Za-z0-9_]/g, "_").toLowerCase()

/** Each tool call's name by its id, over the whole conversation. */
const toolNames = (messages: ReadonlyArray<Message.Message>) => {
  const names = new Map<string, string>()
  for (const message of messages) {
    for (const block of message.content) {
      if (block.type === "tool_use") {
        const use = block as Message.ToolUseBlock
        names.set(use.id, use.name)
      }
    }
  }
  return names
}

const textOf = (result: Message.ToolResultBlock): string =>
  typeof result.content === "string" ? result.content : JSON.stringify(result.content)

/** The tool results of this ask so far, newest last, with the name of the tool that gave each. */
const resultsOfThisAsk = (messages: ReadonlyArray<Message.Message>) => {
  const names = toolNames(messages)
  const out: Array<{ readonly tool: string; readonly text: string }> = []
  for (let i = messages.length - 1; i >= 0; i--) {
    const results = messages[i]!.content.filter((b): b is Message.ToolResultBlock => b.type === "tool_result")
    if (messages[i]!.role === "user" && results.length === 0) break
    for (const result of results.reverse())
      out.unshift({ tool: names.get(result.tool_use_id) ?? "", text: textOf(result) })
  }
  return out
}

/** The plan for a table: what to total by what. */
const planFor = (table: Listed) => {
  const columns = table.columns ?? []
  const category = columns.find((c) => TEXT.test(c.type))
  const measure = columns.find((c) => NUMERIC.test(c.type) && !/(^|_)id$/i.test(c.name))
  return { table: table.name, category, measure }
}

const plan = (listing: string) => {
  try {
    const handles = JSON.parse(listing) as ReadonlyArray<Listed>
    const table = handles.find((h) => h.kind === "table" && !/^(chart|query)_\d+$/.test(h.name))
    return table === undefined ? undefined : planFor(table)
  } catch {
    return undefined
  }
}

const afterListing = (listing: string): Mock.Script => {
  const p = plan(listing)
  if (p === undefined) {
    return {
      text:
        "There is no table in this session yet. Upload a CSV, TSV, Parquet or JSON file (or pick the sample) " +
        "and ask again. (This is the offline scripted model.)"
    }
  }
  if (p.category === undefined) {
    return {
      text: `I'll count the rows of ${p.table}. `,
      toolCalls: [{ name: "sql", input: { query: `SELECT count(*) AS row_count FROM ${ident(p.table)}` } }]
    }
  }
  const value = p.measure === undefined ? "row_count" : `total_${slug(p.measure.name)}`
  const aggregate = p.measure === undefined ? "count(*)" : `sum(${ident(p.measure.name)})`
  return {
    text: `I'll total ${p.measure?.name ?? "the rows"} by ${p.category.name} with SQL, then chart it. `,
    toolCalls: [
      {
        name: "sql",
        input: {
          query: `SELECT ${ident(p.category.name)}, ${aggregate} AS ${value} FROM ${ident(p.table)} GROUP BY ALL ORDER BY ${value} DESC`,
          save_as: `${slug(p.table)}_by_${slug(p.category.name)}`
        }
      }
    ]
  }
}

const inline = (text: string): Inline | undefined => {
  try {
    return JSON.parse(text.split("\n")[0]!) as Inline
  } catch {
    return undefined
  }
}

const savedAs = (text: string) => /Saved as table handle "([^"]+)"/.exec(text)?.[1]

const afterSql = (text: string): Mock.Script => {
  const result = inline(text)
  const handle = savedAs(text)
  if (result === undefined || handle === undefined || result.columns.length < 2) {
    return { text: `The query returned: ${text.split("\n")[0]}. (This is the offline scripted model.)` }
  }
  const [category, value] = result.columns as [string, string]
  return {
    text: "Here is a chart of it. ",
    toolCalls: [
      {
        name: "chart",
        input: {
          data: handle,
          mark: "bar",
          title: `${value.replaceAll("_", " ")} by ${category}`,
          encoding: {
            x: { field: category, type: "nominal", sort: "-y" },
            y: { field: value, type: "quantitative" },
            tooltip: [{ field: category }, { field: value, type: "quantitative" }]
          }
        }
      }
    ]
  }
}

const format = (value: unknown) =>
  typeof value === "number" ? value.toLocaleString("en-US", { maximumFractionDigits: 2 }) : String(value)

const answer = (results: ReadonlyArray<{ readonly tool: string; readonly text: string }>): Mock.Script => {
  const sql = [...results].reverse().find((r) => r.tool === "sql")
  const table = sql === undefined ? undefined : inline(sql.text)
  if (table === undefined || table.rows.length === 0) return { text: "Done. (This is the offline scripted model.)" }
  const [category, value] = table.columns as [string, string]
  const [top, second] = table.rows
  const lead = `${format(top![0])} has the most ${value.replaceAll("_", " ")}: ${format(top![1])}`
  const next = second === undefined ? "" : `, ahead of ${format(second[0])} with ${format(second[1])}`
  return {
    text:
      `By ${category}, ${lead}${next}. The chart shows all ${table.rows.length} values of ${category}. ` +
      "(This is the offline scripted model: it always totals the first numeric column by the first text column.)"
  }
}

/**
 * One turn of the scripted analyst, from the conversation so far.
 * @internal
 */
export const scriptedAnalyst = ({ messages }: Mock.TurnContext): Mock.Script => {
  const results = resultsOfThisAsk(messages)
  const last = results[results.length - 1]
  if (last === undefined) return { text: "Let me look at the data first. ", toolCalls: [{ name: "list_variables" }] }
  switch (last.tool) {
    case "list_variables":
      return afterListing(last.text)
    case "sql":
      return afterSql(last.text)
    case "chart":
      return answer(results)
    default:
      return { text: `The tool returned: ${last.text.slice(0, 200)}` }
  }
}
