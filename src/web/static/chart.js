// @ts-check
/**
 * Drawing a chart the `chart` tool kept: the page fetches its Vega-Lite spec (data inlined by the
 * server) and renders it to SVG with Vega.
 */
import * as api from "./api.js"
import { h } from "./dom.js"

/** Vega and Vega-Lite: globals of their browser builds (`/web/vendor/`), loaded by the page. */
const libraries = () => {
  const globals = /** @type {any} */ (globalThis)
  if (globals.vega === undefined || globals.vegaLite === undefined) throw new Error("Vega is not loaded")
  return {
    vega: /** @type {typeof import("vega")} */ (globals.vega),
    vegaLite: /** @type {typeof import("vega-lite")} */ (globals.vegaLite)
  }
}

/** The page's chart defaults: a size that reads well beside the text, unless the spec sets one. */
const CONFIG = { view: { continuousWidth: 520, continuousHeight: 260, step: 48 } }

/**
 * Renders a Vega-Lite spec into `container` as SVG.
 * @param {HTMLElement} container
 * @param {any} spec
 */
export const render = async (container, spec) => {
  const { vega, vegaLite } = libraries()
  const compiled = vegaLite.compile(spec, { config: CONFIG }).spec
  const view = new vega.View(vega.parse(compiled), { renderer: "svg", container, hover: true })
  await view.runAsync()
  return view
}

/**
 * The element that shows chart `name` of a session: a placeholder now, the chart once fetched
 * and drawn (`data-state` goes `loading` → `drawn`, or `failed` with the reason shown).
 * @param {string} sessionId
 * @param {string} name
 */
export const chartElement = (sessionId, name) => {
  const figure = h("figure", { class: "chart", "data-chart": name, "data-state": "loading" })
  const canvas = h("div", { class: "canvas" })
  figure.append(canvas, h("figcaption", {}, `chart ${name}`))
  api
    .chart(sessionId, name)
    .then(async (spec) => {
      await render(canvas, spec)
      const meta = spec.usermeta?.dataHarness
      if (meta?.cut) {
        figure.append(h("p", { class: "note" }, `shows the first ${meta.shown} of ${meta.rows} rows of ${meta.handle}`))
      }
      figure.dataset.state = "drawn"
    })
    .catch((/** @type {unknown} */ error) => {
      figure.dataset.state = "failed"
      canvas.append(h("p", { class: "error" }, `The chart could not be drawn: ${String(error)}`))
    })
  return figure
}
