/**
 * The layering of `src`, checked on every test run: no import cycle between files, each folder
 * imports only the folders below it, and nothing in `src` reaches outside it (`test/`,
 * `scratchpad/`) or back into the package through its own name.
 *
 * Imports are read with a regex over the source text (TypeScript 7 has no JavaScript API). The
 * forms it reads are pinned by the first test; every relative import it finds must resolve to a
 * file, so a form it misread would fail loudly rather than drop an edge.
 */
import * as Fs from "node:fs"
import * as Path from "node:path"
import { assert, describe, it } from "@effect/vitest"

// the rules

/**
 * The folders of `src` from the bottom up, and what each may import. `types` are folders it may
 * import types from (`import type`), never values. `index` is `src/index.ts`, the public surface.
 */
const below = ["core", "provider", "sandbox", "stream", "store", "telemetry", "data", "tools", "control"]
const underTop = [...below, "agent", "index"]
const rules: Record<string, { readonly imports: ReadonlyArray<string>; readonly types?: ReadonlyArray<string> }> = {
  core: { imports: [] },
  provider: { imports: ["core"] },
  sandbox: { imports: ["core"] },
  stream: { imports: ["core"] },
  store: { imports: ["core"] },
  // the trace records a provider's request
  telemetry: { imports: ["core"], types: ["provider"] },
  data: { imports: ["core", "store"] },
  // a tool's definition is what a provider sends
  tools: { imports: ["core", "data", "sandbox"], types: ["provider"] },
  control: { imports: ["core", "provider", "data", "tools"] },
  agent: { imports: below },
  index: { imports: [...below, "agent"] },
  // entry points on top (package.json `exports`): nothing below imports them
  server: { imports: underTop },
  mcp: { imports: underTop },
  promise: { imports: underTop },
  // the cluster's HTTP front speaks the server's API (its errors, SSE framing and tenancy)
  cluster: { imports: [...underTop, "server"] },
  web: { imports: [...underTop, "server"] }
}
const top = ["server", "mcp", "promise", "cluster", "web"]

// the import graph

type Kind = "value" | "type" | "dynamic"

interface Import {
  readonly specifier: string
  readonly kind: Kind
}

const STATIC =
  /^(?:import|export)(\s+type)?\s+(?:[\w$]+\s*,\s*)?(?:\{[^}]*\}|\*(?:\s+as\s+[\w$]+)?|[\w$]+)\s+from\s+["']([^"']+)["']/gm
const BARE = /^import\s+["']([^"']+)["']/gm
const DYNAMIC = /(typeof\s+)?\bimport\(\s*["']([^"']+)["']\s*\)/g

/**
 * The imports of a module's text. `import { type A }` is a value import: with
 * `verbatimModuleSyntax` it stays in the output as `import {} from`, so it loads the module.
 * Dynamic imports in comments (lines starting with `*` or `//`) are skipped.
 */
const importsOf = (text: string): ReadonlyArray<Import> => {
  const found: Array<Import> = []
  for (const m of text.matchAll(STATIC)) found.push({ specifier: m[2]!, kind: m[1] ? "type" : "value" })
  for (const m of text.matchAll(BARE)) found.push({ specifier: m[1]!, kind: "value" })
  for (const line of text.split("\n")) {
    if (/^\s*(\*|\/\/)/.test(line)) continue
    for (const m of line.matchAll(DYNAMIC)) found.push({ specifier: m[2]!, kind: m[1] ? "type" : "dynamic" })
  }
  return found
}

interface Edge {
  readonly from: string
  readonly to: string
  readonly kind: Kind
}

/** The repository root: the paths below are relative to it. */
const root = Path.resolve(import.meta.dirname, "..")

const sourceFiles = Fs.readdirSync(Path.join(root, "src"), { recursive: true, encoding: "utf8" })
  .filter((file) => file.endsWith(".ts"))
  .map((file) => Path.posix.join("src", file.split(Path.sep).join("/")))
  .sort()

const imports = new Map(sourceFiles.map((file) => [file, importsOf(Fs.readFileSync(Path.join(root, file), "utf8"))]))

/** The relative imports as edges between files (`./x.js` is `x.ts`). */
const edges: ReadonlyArray<Edge> = sourceFiles.flatMap((from) =>
  imports
    .get(from)!
    .filter((i) => i.specifier.startsWith("."))
    .map((i) => ({
      from,
      to: Path.posix.join(Path.posix.dirname(from), i.specifier.replace(/\.js$/, ".ts")),
      kind: i.kind
    }))
)

/** `src/index.ts` is `index`; `src/x/...` is `x`. */
const folderOf = (file: string): string => file.split("/")[1]!.replace(/\.ts$/, "")

const describeRule = (folder: string): string => {
  const rule = rules[folder]!
  const values = rule.imports.length === 0 ? "nothing of ours" : `only ${rule.imports.join(", ")}`
  return `${folder} may import ${values}${rule.types ? `, and only types from ${rule.types.join(", ")}` : ""}`
}

/**
 * The import cycles: for each set of files that reach each other (a strongly connected component
 * of the graph, Tarjan's algorithm), its size and its shortest cycle through its first file, as
 * `a -(kind)-> b -(kind)-> a`.
 */
const findCycles = (): ReadonlyArray<string> => {
  const out = new Map<string, Array<Edge>>()
  for (const edge of edges) out.set(edge.from, [...(out.get(edge.from) ?? []), edge])
  const index = new Map<string, number>()
  const low = new Map<string, number>()
  const stack: Array<string> = []
  const components: Array<Array<string>> = []
  const connect = (file: string) => {
    index.set(file, index.size)
    low.set(file, index.get(file)!)
    stack.push(file)
    for (const { to } of out.get(file) ?? []) {
      if (!index.has(to)) {
        connect(to)
        low.set(file, Math.min(low.get(file)!, low.get(to)!))
      } else if (stack.includes(to)) low.set(file, Math.min(low.get(file)!, index.get(to)!))
    }
    if (low.get(file) === index.get(file)) {
      const component: Array<string> = []
      let member: string
      do {
        member = stack.pop()!
        component.push(member)
      } while (member !== file)
      components.push(component.sort())
    }
  }
  for (const file of sourceFiles) if (!index.has(file)) connect(file)
  return components
    .filter((c) => c.length > 1 || (out.get(c[0]!) ?? []).some((e) => e.to === c[0]))
    .map((component) => {
      const first = component[0]!
      const members = new Set(component)
      // breadth first from `first` back to it, inside the component
      const via = new Map<string, Edge>()
      const queue = [first]
      let closing: Edge | undefined
      while (queue.length > 0 && closing === undefined) {
        for (const edge of out.get(queue.shift()!) ?? []) {
          if (!members.has(edge.to)) continue
          if (edge.to === first) {
            closing = edge
            break
          }
          if (!via.has(edge.to)) {
            via.set(edge.to, edge)
            queue.push(edge.to)
          }
        }
      }
      const loop = [closing!]
      while (loop[0]!.from !== first) loop.unshift(via.get(loop[0]!.from)!)
      const path = first + loop.map((e) => ` -(${e.kind})-> ${e.to}`).join("")
      const names = component.length > 10 ? [...component.slice(0, 10), "..."] : component
      return `${path}${component.length > 2 ? ` (one cycle of ${component.length} files: ${names.join(", ")})` : ""}`
    })
}

describe("architecture", () => {
  it("the import parser reads every import form the rules rely on", () => {
    const text = [
      `import { a,`,
      `  b } from "./named.js"`,
      `import type { T } from "./types.js"`,
      `import type * as N from "./typeNamespace.js"`,
      `import { type U } from "./inlineType.js"`,
      `import D, { e } from "./defaultAndNamed.js"`,
      `import * as M from "./namespace.js"`,
      `import "./sideEffect.js"`,
      `import { Effect } from "effect"`,
      `export * from "./star.js"`,
      `export * as S from "./starAs.js"`,
      `export { f } from "./reexport.js"`,
      `export type { G } from "./typeReexport.js"`,
      `const load = () => import("./lazy.js")`,
      `type L = typeof import("./typeofImport.js")`,
      ` * const example = import("./inAComment.js")`
    ].join("\n")
    const read = importsOf(text)
      .map((i) => `${i.kind} ${i.specifier}`)
      .sort()
    assert.deepStrictEqual(read, [
      "dynamic ./lazy.js",
      "type ./typeNamespace.js",
      "type ./typeReexport.js",
      "type ./typeofImport.js",
      "type ./types.js",
      "value ./defaultAndNamed.js",
      "value ./inlineType.js",
      "value ./named.js",
      "value ./namespace.js",
      "value ./reexport.js",
      "value ./sideEffect.js",
      "value ./star.js",
      "value ./starAs.js",
      "value effect"
    ])
    assert.isTrue(
      edges.some((e) => e.from === "src/index.ts" && e.to === "src/agent/Agent.ts" && e.kind === "value"),
      "the graph of src misses src/index.ts -> src/agent/Agent.ts"
    )
  })

  it("every relative import of src resolves to a TypeScript file under src (none reaches test/ or scratchpad/)", () => {
    const outside = edges.filter((e) => !e.to.startsWith("src/")).map((e) => `${e.from} imports ${e.to}`)
    assert.deepStrictEqual(outside, [], `src must not import from outside src:\n${outside.join("\n")}`)
    const missing = edges.filter((e) => !imports.has(e.to)).map((e) => `${e.from} imports ${e.to}`)
    assert.deepStrictEqual(missing, [], `imports that resolve to no file of src:\n${missing.join("\n")}`)
  })

  it("no src file imports the package by its own name", () => {
    const self = sourceFiles.flatMap((file) =>
      imports
        .get(file)!
        .filter((i) => /^data-harness(\/|$)/.test(i.specifier))
        .map((i) => `${file} imports ${i.specifier}`)
    )
    assert.deepStrictEqual(self, [], `import the module by its relative path instead:\n${self.join("\n")}`)
  })

  it("src has no import cycle between files, counting value, type and dynamic imports", () => {
    const cycles = findCycles()
    assert.deepStrictEqual(
      cycles,
      [],
      `import cycles (move what both sides need into a module of its own):\n${cycles.join("\n")}`
    )
  })

  it("every folder of src has its place in the layering", () => {
    const folders = [...new Set(sourceFiles.map(folderOf))].sort()
    const unplaced = folders.filter((folder) => rules[folder] === undefined)
    assert.deepStrictEqual(unplaced, [], `add these folders to the rules of test/architecture.test.ts: ${unplaced}`)
  })

  it("each folder imports only the folders below it, and nothing below imports the entry points on top", () => {
    const broken = edges.flatMap((edge) => {
      const from = folderOf(edge.from)
      const to = folderOf(edge.to)
      const rule = rules[from]
      if (from === to || rule === undefined || !edge.to.startsWith("src/")) return []
      if (rule.imports.includes(to)) return []
      if (edge.kind === "type" && rule.types?.includes(to)) return []
      const onTop = top.includes(to) ? `; ${to} is an entry point on top, nothing below imports it` : ""
      const typesOnly = rule.types?.includes(to) ? `; this is a ${edge.kind} import` : ""
      return [`${edge.from} imports ${edge.to}: ${describeRule(from)}${typesOnly}${onTop}`]
    })
    assert.deepStrictEqual(broken, [], `imports that break the layering:\n${broken.join("\n")}`)
  })
})
