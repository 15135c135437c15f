/**
 * Runs a script in a fresh Node process that imports the package from `src/` (through tsx), for
 * tests that need a process of their own: what importing loads, and what DuckDB does with `$HOME`.
 */
import { execFile } from "node:child_process"
import { fileURLToPath } from "node:url"
import { Effect } from "effect"

/** The package entry, as a URL the child imports. */
export const entry = new URL("../../src/index.ts", import.meta.url).href

const root = fileURLToPath(new URL("../..", import.meta.url))

/**
 * Runs `script` (an ES module body; it may `await import(entry)`) and returns what it printed on
 * its last line, parsed as JSON. Fails with the child's output if it exits with an error.
 */
export const runScript = (script: string, env: Readonly<Record<string, string>> = {}): Effect.Effect<unknown, Error> =>
  Effect.callback<unknown, Error>((resume) => {
    const child = execFile(
      process.execPath,
      ["--import", "tsx", "--input-type=module", "-e", script],
      { cwd: root, env: { ...process.env, ...env }, timeout: 60_000 },
      (error, stdout, stderr) => {
        if (error !== null) {
          resume(Effect.fail(new Error(`child failed: ${error.message}\n${stdout}\n${stderr}`)))
          return
        }
        const last = stdout.trim().split("\n").at(-1) ?? ""
        try {
          resume(Effect.succeed(JSON.parse(last)))
        } catch {
          resume(Effect.fail(new Error(`child printed no JSON:\n${stdout}\n${stderr}`)))
        }
      }
    )
    return Effect.sync(() => child.kill())
  })
