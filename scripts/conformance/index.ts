/**
 * `npm run conformance -- <dir>`: replays a folder of recorded API streams through the harness
 * and checks what it makes of each against what the provider's official SDK makes of the same
 * bytes. Prints one line per failing fixture with its reasons, then `N passed, M failed`; exits
 * non-zero when any fixture failed (or none was found).
 *
 * A fixture is a pair `NAME.sse` (the response body, byte for byte) and `NAME.expect.json` (the
 * SDK's result and provenance). The corpus is data from other projects: it is read where it lies
 * (`../shared/conformance/...`, resolved from the current directory) and never copied into the
 * repository.
 *
 * Each fixture is dispatched on `expect.sdk_reference.package` to a runner module beside this
 * one that exports a {@link Check} named `check`:
 *
 * | package | runner |
 * | --- | --- |
 * | `@anthropic-ai/sdk` | `./anthropic.ts` |
 * | `openai` | `./openai.ts` |
 *
 * A runner that is not there fails its fixtures with a reason that says so.
 *
 * @example
 * ```sh
 * npm run conformance -- ../shared/conformance/anthropic-real
 * ```
 */
import { readdirSync, readFileSync, statSync } from "node:fs"
import { basename, join, resolve } from "node:path"
import { pathToFileURL } from "node:url"

/**
 * One recorded response, as a runner gets it.
 */
export interface Fixture {
  /** The file stem, e.g. `p09_compaction_delta`. */
  readonly name: string
  /** The folder it is in (absolute). */
  readonly dir: string
  /** The `.sse` file's bytes, exactly. */
  readonly sse: Uint8Array
  /** The parsed `.expect.json`: the SDK's outcome (`outcome`, `message` / `completion`, `error`, ...). */
  readonly expect: Readonly<Record<string, unknown>>
}

/**
 * A runner's check of one fixture: resolves with the reasons it failed, each one line that says
 * what differed (`[]` when it passed). It must not throw for a fixture that fails; a throw is
 * reported as a failure of that fixture. Each call serves the fixture's bytes from a server of
 * its own (or otherwise needs no state shared with other calls), so fixtures can run one after
 * another in any order.
 */
export type Check = (fixture: Fixture) => Promise<ReadonlyArray<string>>

/** The runner module of each SDK package (`expect.sdk_reference.package`). */
const runners: Readonly<Record<string, string>> = {
  "@anthropic-ai/sdk": "./anthropic.js",
  openai: "./openai.js"
}

const loaded = new Map<string, Check | string>()

/** The check of a runner module, or why there is none. */
const runnerFor = async (pkg: string): Promise<Check | string> => {
  const specifier = runners[pkg]
  if (specifier === undefined) return `no runner for fixtures of the SDK package ${JSON.stringify(pkg)}`
  const known = loaded.get(specifier)
  if (known !== undefined) return known
  let result: Check | string
  try {
    const module = (await import(specifier)) as { readonly check?: unknown }
    result =
      typeof module.check === "function" ? (module.check as Check) : `${specifier} does not export a check function`
  } catch (error) {
    const code = (error as { readonly code?: unknown }).code
    if (code !== "ERR_MODULE_NOT_FOUND" && code !== "MODULE_NOT_FOUND") throw error
    result = `no runner for ${pkg} fixtures (scripts/conformance/${basename(specifier, ".js")}.ts is missing)`
  }
  loaded.set(specifier, result)
  return result
}

/** The fixtures of a folder: every `NAME.sse` with its `NAME.expect.json`, by name. */
export const readFixtures = (dir: string): ReadonlyArray<Fixture> =>
  readdirSync(dir)
    .filter((file) => file.endsWith(".sse"))
    .sort()
    .map((file) => {
      const name = file.slice(0, -".sse".length)
      return {
        name,
        dir,
        sse: readFileSync(join(dir, file)),
        expect: JSON.parse(readFileSync(join(dir, `${name}.expect.json`), "utf8")) as Record<string, unknown>
      }
    })

/** The outcome of one fixture. */
export interface Outcome {
  readonly name: string
  readonly failures: ReadonlyArray<string>
}

const packageOf = (fixture: Fixture): string => {
  const reference = fixture.expect.sdk_reference as { readonly package?: unknown } | undefined
  return typeof reference?.package === "string" ? reference.package : "(no sdk_reference.package)"
}

/** Checks one fixture with its runner; a throw is a failure of the fixture. */
export const checkFixture = async (fixture: Fixture): Promise<Outcome> => {
  const check = await runnerFor(packageOf(fixture))
  if (typeof check === "string") return { name: fixture.name, failures: [check] }
  try {
    return { name: fixture.name, failures: await check(fixture) }
  } catch (error) {
    return { name: fixture.name, failures: [`the check threw: ${error instanceof Error ? error.message : error}`] }
  }
}

/** Runs every fixture of `dir`, one after another, calling `onOutcome` for each. */
export const run = async (
  dir: string,
  onOutcome: (outcome: Outcome) => void = () => {}
): Promise<ReadonlyArray<Outcome>> => {
  const outcomes: Array<Outcome> = []
  for (const fixture of readFixtures(dir)) {
    const outcome = await checkFixture(fixture)
    onOutcome(outcome)
    outcomes.push(outcome)
  }
  return outcomes
}

/** The summary line: `N passed, M failed`. */
export const summary = (outcomes: ReadonlyArray<Outcome>): string => {
  const failed = outcomes.filter((outcome) => outcome.failures.length > 0).length
  return `${outcomes.length - failed} passed, ${failed} failed`
}

const main = async (args: ReadonlyArray<string>): Promise<number> => {
  if (args.length === 0) {
    console.error("usage: npm run conformance -- <dir> [<dir> ...]   (folders of NAME.sse + NAME.expect.json)")
    return 2
  }
  const outcomes: Array<Outcome> = []
  for (const arg of args) {
    const dir = resolve(arg)
    if (!statSync(dir, { throwIfNoEntry: false })?.isDirectory()) {
      console.error(`${arg}: not a folder (resolved to ${dir})`)
      return 2
    }
    outcomes.push(
      ...(await run(dir, (outcome) => {
        if (outcome.failures.length === 0) return
        console.log(`FAIL ${outcome.name}`)
        for (const reason of outcome.failures) console.log(`  - ${reason}`)
      }))
    )
  }
  console.log(summary(outcomes))
  return outcomes.length > 0 && outcomes.every((outcome) => outcome.failures.length === 0) ? 0 : 1
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code
    },
    (error) => {
      console.error(error)
      process.exitCode = 1
    }
  )
}
