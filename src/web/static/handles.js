// @ts-check
/** @import { HandleInfo } from "./types.js" */
/**
 * The session's data handles as the page's left column shows them, from their snapshots.
 */
import { h, table } from "./dom.js"

/**
 * What a handle is, in a few words: a table's size, a chart, an array's length, or its kind.
 * @param {HandleInfo} handle
 */
const handleSummary = (handle) => {
  const s = handle.snapshot
  if (s.kind === "table") return `table · ${s.rows ?? "?"} rows × ${s.columns?.length ?? "?"} columns`
  if (handle.description?.includes("(Vega-Lite)")) return "chart"
  if (s.kind === "array") return `array · ${s.length ?? "?"} items`
  return s.kind
}

/**
 * A handle as the data column lists it: its name and summary, opening to its description, query,
 * columns and sample rows.
 * @param {HandleInfo} handle
 */
export const handleItem = (handle) => {
  const s = handle.snapshot
  const columns = s.columns ?? []
  const sample = /** @type {ReadonlyArray<Record<string, unknown>>} */ (s.sample ?? [])
  return h(
    "li",
    { "data-handle": handle.name },
    h(
      "details",
      {},
      h("summary", {}, h("b", {}, handle.name), h("span", { class: "kind" }, handleSummary(handle))),
      handle.description === undefined ? undefined : h("p", { class: "note" }, handle.description),
      handle.query === undefined ? undefined : h("pre", { class: "input" }, handle.query),
      columns.length === 0
        ? undefined
        : table(
            ["column", "type"],
            columns.map((c) => [c.name, c.type])
          ),
      s.kind === "table" && sample.length > 0
        ? table(
            columns.map((c) => c.name),
            sample.map((row) => columns.map((c) => row[c.name]))
          )
        : undefined
    )
  )
}
