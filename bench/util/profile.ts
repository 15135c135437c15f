/**
 * Summarises a V8 `.cpuprofile` (from `node --cpu-prof`): self time by function and by file.
 *
 * `npx tsx bench/util/profile.ts <file.cpuprofile> [top]`
 * @since 0.1.0
 */
import { readFileSync } from "node:fs"

interface Node {
  readonly id: number
  readonly callFrame: {
    readonly functionName: string
    readonly url: string
    readonly lineNumber: number
  }
  readonly children?: ReadonlyArray<number>
}

interface Profile {
  readonly nodes: ReadonlyArray<Node>
  readonly samples: ReadonlyArray<number>
  readonly timeDeltas: ReadonlyArray<number>
}

/**
 * Self time (ms) per function and per file of a profile, largest first.
 * @since 0.1.0
 */
export const summarise = (profile: Profile) => {
  const byId = new Map(profile.nodes.map((node) => [node.id, node]))
  const self = new Map<number, number>()
  profile.samples.forEach((id, i) => {
    self.set(id, (self.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0) / 1000)
  })
  const functions = new Map<string, number>()
  const files = new Map<string, number>()
  let total = 0
  for (const [id, ms] of self) {
    const frame = byId.get(id)!.callFrame
    const file = frame.url.replace(/^file:\/\//, "").replace(/^.*node_modules\//, "~/")
    const key = `${frame.functionName || "(anonymous)"} ${file}:${frame.lineNumber + 1}`
    functions.set(key, (functions.get(key) ?? 0) + ms)
    const fileKey = file || frame.functionName
    files.set(fileKey, (files.get(fileKey) ?? 0) + ms)
    total += ms
  }
  const sorted = (map: Map<string, number>) => [...map].sort((a, b) => b[1] - a[1])
  return { total, functions: sorted(functions), files: sorted(files) }
}

if (process.argv[1]?.endsWith("profile.ts")) {
  const top = Number(process.argv[3] ?? 30)
  const { total, functions, files } = summarise(JSON.parse(readFileSync(process.argv[2]!, "utf8")) as Profile)
  const pct = (ms: number) => `${((ms / total) * 100).toFixed(1).padStart(5)}%`
  console.log(`total ${total.toFixed(0)} ms\n\nself time by function:`)
  for (const [name, ms] of functions.slice(0, top)) console.log(`${pct(ms)} ${ms.toFixed(0).padStart(6)} ms  ${name}`)
  console.log("\nself time by file:")
  for (const [name, ms] of files.slice(0, top)) console.log(`${pct(ms)} ${ms.toFixed(0).padStart(6)} ms  ${name}`)
}
