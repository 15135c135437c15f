// Removes from package-lock.json the optional dependencies that the lock has no entry for.
//
// The registry reachable here serves only the linux builds of some packages' per-platform
// binaries (@biomejs/cli-*, @duckdb/node-bindings-*, ...). npm records the optional edges to the
// other platforms' packages but cannot record the packages, and then `npm ci` refuses the lock as
// "out of sync". Run `npm run lock:prune` after any `npm install` that changed the lock.
import { readFileSync, writeFileSync } from "node:fs"

const path = new URL("../package-lock.json", import.meta.url)
const lock = JSON.parse(readFileSync(path, "utf8"))
const packages = lock.packages
let pruned = 0

/** The lock key a dependency `name` of the package at `location` resolves to, as Node would. */
const resolve = (location, name) => {
  let base = location
  while (true) {
    const key = base === "" ? `node_modules/${name}` : `${base}/node_modules/${name}`
    if (key in packages) return key
    if (base === "") return undefined
    const cut = base.lastIndexOf("/node_modules/")
    base = cut === -1 ? "" : base.slice(0, cut)
  }
}

for (const [location, entry] of Object.entries(packages)) {
  const optional = entry.optionalDependencies
  if (!optional) continue
  for (const name of Object.keys(optional)) {
    if (resolve(location, name) === undefined) {
      delete optional[name]
      pruned++
    }
  }
  if (Object.keys(optional).length === 0) delete entry.optionalDependencies
}

writeFileSync(path, `${JSON.stringify(lock, null, 2)}\n`)
console.log(`prune-lock: removed ${pruned} optional dependencies that have no lock entry`)
