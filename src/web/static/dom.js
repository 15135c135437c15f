// @ts-check
/**
 * Small DOM helpers. Everything the model or the data says is set as text, never as HTML.
 */

/**
 * An element with attributes (`class`, `data-*`, …) and children (nodes or text).
 * @template {keyof HTMLElementTagNameMap} K
 * @param {K} tag
 * @param {Record<string, string | number | boolean | undefined>} [attributes]
 * @param {Array<Node | string | undefined>} children
 * @returns {HTMLElementTagNameMap[K]}
 */
export const h = (tag, attributes = {}, ...children) => {
  const element = document.createElement(tag)
  for (const [name, value] of Object.entries(attributes)) {
    if (value === undefined || value === false) continue
    element.setAttribute(name, value === true ? "" : String(value))
  }
  for (const child of children) {
    if (child !== undefined) element.append(child)
  }
  return element
}

/**
 * A value as a table cell shows it.
 * @param {unknown} value
 */
const cell = (value) => {
  if (value === null || value === undefined) return h("td", { class: "null" }, "null")
  if (typeof value === "number") return h("td", { class: "num" }, value.toLocaleString("en-US"))
  return h("td", {}, typeof value === "object" ? JSON.stringify(value) : String(value))
}

/** Rows a table shows; the rest are counted. */
const SHOWN_ROWS = 100

/**
 * A table of rows (arrays in column order), with its row count when it shows fewer.
 * @param {ReadonlyArray<string>} columns
 * @param {ReadonlyArray<ReadonlyArray<unknown>>} rows
 * @param {number} [total] rows in all
 */
export const table = (columns, rows, total = rows.length) => {
  const body = rows.slice(0, SHOWN_ROWS).map((row) => h("tr", {}, ...row.map(cell)))
  const more = total > Math.min(rows.length, SHOWN_ROWS)
  return h(
    "div",
    { class: "table" },
    h("table", {}, h("thead", {}, h("tr", {}, ...columns.map((c) => h("th", {}, c)))), h("tbody", {}, ...body)),
    more ? h("p", { class: "more" }, `${Math.min(rows.length, SHOWN_ROWS)} of ${total} rows`) : undefined
  )
}

/**
 * A table of records.
 * @param {ReadonlyArray<Record<string, unknown>>} records
 */
export const recordTable = (records) => {
  /** @type {Array<string>} */
  const columns = []
  for (const record of records.slice(0, SHOWN_ROWS)) {
    for (const key of Object.keys(record)) if (!columns.includes(key)) columns.push(key)
  }
  return table(
    columns,
    records.map((r) => columns.map((c) => r[c])),
    records.length
  )
}

/**
 * Whether a value is a non-empty array of plain records.
 * @param {unknown} value
 * @returns {value is ReadonlyArray<Record<string, unknown>>}
 */
export const isRecords = (value) =>
  Array.isArray(value) &&
  value.length > 0 &&
  value.every((v) => typeof v === "object" && v !== null && !Array.isArray(v))

/**
 * JSON, or undefined when the text is not JSON.
 * @param {string} text
 * @returns {unknown}
 */
export const tryJson = (text) => {
  try {
    return JSON.parse(text)
  } catch {
    return undefined
  }
}
