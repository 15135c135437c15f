import { execFile } from "node:child_process"
import { fileURLToPath } from "node:url"
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"

const root = fileURLToPath(new URL("../../", import.meta.url))

/**
 * Module resolution hooks that report every URL the process resolves on its main thread, so the
 * child can tell which modules it loaded (hooks run on their own thread; they post to a port).
 */
const HOOKS = `
let port
export function initialize(data) { port = data.port }
export async function resolve(specifier, context, next) {
  const resolved = await next(specifier, context)
  port.postMessage(resolved.url)
  return resolved
}`

/**
 * The child: registers the hooks, imports the package, runs one `javascript` call on the default
 * pool, and prints which QuickJS modules its main thread resolved at each step; then imports
 * QuickJS itself (the detector's control). It must then exit on its own: the default pool's idle
 * thread is unref'd.
 */
const CHILD = `
import { register } from "node:module"
import { MessageChannel } from "node:worker_threads"
const { port1, port2 } = new MessageChannel()
const resolved = []
port1.on("message", (url) => resolved.push(url))
port1.unref()
register("data:text/javascript," + encodeURIComponent(${JSON.stringify(HOOKS)}), { data: { port: port2 }, transferList: [port2] })
let sentinel = 0
/** Every URL resolved so far: a fresh sentinel import's URL arrives after all earlier ones. */
const settle = async () => {
  const url = "data:text/javascript,export default " + ++sentinel
  await import(url)
  while (!resolved.includes(url)) await new Promise((done) => setTimeout(done, 5))
  return resolved.filter((u) => /quickjs/i.test(u))
}
const { Data, Effect, JavaScript } = await import(${JSON.stringify(new URL("../../src/index.ts", import.meta.url).href)}).then(async (pkg) => ({ ...pkg, Effect: (await import("effect")).Effect }))
const afterImport = await settle()
const outcome = await Effect.runPromise(Effect.scoped(Effect.flatMap(Data.makeStore, (store) =>
  JavaScript.javascript.call({ code: "6 * 7" }, { toolUseId: "toolu_1", data: store, reveal: () => Effect.void, setAnswer: () => Effect.void }))))
const afterCall = await settle()
await import("quickjs-emscripten-core")
const control = await settle()
console.log(JSON.stringify({ afterImport, outcome, afterCall, control }))
`

describe("loading QuickJS", () => {
  it.live(
    "importing the package loads no QuickJS module; a javascript call loads it on the sandbox thread only; the idle thread lets the process exit",
    () =>
      Effect.gen(function* () {
        const { stdout, exited } = yield* Effect.promise(
          () =>
            new Promise<{ stdout: string; exited: boolean }>((resolve) => {
              execFile(
                process.execPath,
                ["--import", "tsx", "--input-type=module", "-e", CHILD],
                // the default pool keeps its idle thread 30 s: a child that exits before this
                // timeout did not wait for it
                { cwd: root, timeout: 20_000 },
                (error, stdout) => resolve({ stdout, exited: error === null })
              )
            })
        )
        assert.isTrue(exited, "the child exited on its own, with code 0")
        const report = JSON.parse(stdout.trim().split("\n").at(-1)!) as {
          afterImport: ReadonlyArray<string>
          outcome: { content: string; isError: boolean }
          afterCall: ReadonlyArray<string>
          control: ReadonlyArray<string>
        }
        assert.deepStrictEqual(report.afterImport, [], "importing the package resolved no QuickJS module")
        assert.deepStrictEqual(report.outcome, { content: "Result: 42", isError: false })
        assert.deepStrictEqual(report.afterCall, [], "the call loaded QuickJS on its thread, not on the main thread")
        assert.isAbove(report.control.length, 0, "the detector sees a QuickJS import")
      }),
    30_000
  )
})
