/**
 * Crash consistency of a session on the file-system store, end to end: a child process asks in
 * a loop and is killed with SIGKILL at random points (inside a model turn, a tool call, a store
 * write, a Parquet write); after each kill this process resumes the session and checks that its
 * history is valid for the API, holds every step committed before the kill, and takes the next ask.
 */
import * as ChildProcess from "node:child_process"
import * as FsP from "node:fs/promises"
import * as Os from "node:os"
import * as Path from "node:path"
import { fileURLToPath } from "node:url"
import { afterAll, assert, beforeAll, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { build } from "esbuild"
import { Agent, type Message, Mock, SessionStore } from "../../src/index.js"
import { assertValidHistory } from "../utils/events.js"

const KILLS = 24

let bundle = ""
let bundleDirectory = ""
let directory = ""

beforeAll(async () => {
  directory = await FsP.mkdtemp(Path.join(Os.tmpdir(), "dh-agent-crash-"))
  // inside the package, so the bundle finds the native modules it leaves out in node_modules
  const root = fileURLToPath(new URL("../../", import.meta.url))
  bundleDirectory = await FsP.mkdtemp(Path.join(root, "node_modules", ".dh-crash-child-"))
  bundle = Path.join(bundleDirectory, "crashChild.mjs")
  await build({
    entryPoints: [fileURLToPath(new URL("./crashChild.ts", import.meta.url))],
    bundle: true,
    platform: "node",
    format: "esm",
    outfile: bundle,
    external: ["@duckdb/node-api", "@jitl/*", "quickjs-emscripten-core", "@effect/sql-pg", "pg"],
    logLevel: "silent"
  })
}, 60_000)

afterAll(async () => {
  await FsP.rm(directory, { recursive: true, force: true })
  if (bundleDirectory !== "") await FsP.rm(bundleDirectory, { recursive: true, force: true })
})

/** Runs the child until `delayMs` after it is ready, kills it; the last history it reported sending. */
const runUntilKilled = (id: string, delayMs: number) =>
  new Promise<{ readonly requests: number; readonly last: Message.History | undefined }>((resolve, reject) => {
    const child = ChildProcess.spawn(process.execPath, [bundle, JSON.stringify({ directory, id })], {
      stdio: ["ignore", "pipe", "pipe"]
    })
    let buffered = ""
    let stderr = ""
    let ready = false
    let requests = 0
    let last: Message.History | undefined
    const guard = setTimeout(() => {
      child.kill("SIGKILL")
      reject(new Error(`the crash child was not ready in 30 s; stderr: ${stderr}`))
    }, 30_000)
    child.stderr.on("data", (chunk: Buffer) => {
      stderr += chunk.toString()
    })
    child.stdout.on("data", (chunk: Buffer) => {
      buffered += chunk.toString()
      for (let newline = buffered.indexOf("\n"); newline >= 0; newline = buffered.indexOf("\n")) {
        const line = buffered.slice(0, newline)
        buffered = buffered.slice(newline + 1)
        if (line === "ready" && !ready) {
          ready = true
          setTimeout(() => child.kill("SIGKILL"), delayMs)
        } else if (line.startsWith("request ")) {
          requests++
          last = JSON.parse(line.slice("request ".length)) as Message.History
        }
      }
    })
    child.on("exit", (code, signal) => {
      clearTimeout(guard)
      if (signal !== "SIGKILL" || !ready) reject(new Error(`the child ended by itself (${code ?? signal}): ${stderr}`))
      else resolve({ requests, last })
    })
  })

/** Asserts that `prefix` is where `history` starts (its last message may have grown since). */
const assertStartsWith = (history: Message.History, prefix: Message.History, where: string) => {
  assert.isAtLeast(history.length, prefix.length, `${where}: the history lost messages`)
  prefix.forEach((message, i) => {
    const stored = history[i]!
    assert.strictEqual(stored.role, message.role, `${where}: message ${i}`)
    if (i < prefix.length - 1) assert.deepStrictEqual(stored, message, `${where}: message ${i}`)
    else
      assert.deepStrictEqual(stored.content.slice(0, message.content.length), message.content, `${where}: message ${i}`)
  })
}

describe("crash consistency of a session on the file-system store", () => {
  it.live(
    `kill -9 a process asking in a loop at ${KILLS} random points: after each, the resumed history is valid, holds every committed step, and the next ask works`,
    () =>
      Effect.gen(function* () {
        const id = "crashing"
        let before: Message.History = []
        let steps = 0
        let midAsk = 0
        for (let round = 0; round < KILLS; round++) {
          // from before the first ask (the table's Parquet write) to several turns in
          const killed = yield* Effect.promise(() => runUntilKilled(id, Math.random() * 1500))
          steps += killed.requests
          if (killed.requests > 0) midAsk++
          const where = `kill ${round + 1}`
          yield* Effect.scoped(
            Effect.gen(function* () {
              const store = yield* SessionStore.SessionStore
              const agent = yield* Agent.make({ cache: false })
              const session = yield* agent.session({ id })
              const history = yield* session.history
              assertValidHistory(history, where)
              // what this process left, and what the child sent in its last model call, were committed
              assertStartsWith(history, before, where)
              if (killed.last !== undefined) assertStartsWith(history, killed.last, `${where} (last request)`)
              // every stored handle's rows are there to read
              const stored = yield* store.load({ tenant: "default", id })
              for (const handle of stored.handles) {
                if (handle.data !== undefined) yield* store.dataPath({ tenant: "default", id }, handle.data)
              }
              assert.strictEqual(
                (yield* session.data.query("SELECT sum(revenue) AS total FROM sales")).rows[0]!.total,
                210
              )
              assert.strictEqual(yield* session.ask(`After kill ${round + 1}?`), "Resumed.")
              const after = yield* session.history
              assertValidHistory(after, `${where}, after the next ask`)
              before = after
            }).pipe(
              Effect.provide(Mock.layer({ turns: [Mock.text("Resumed.")] })),
              Effect.provide(SessionStore.layerFileSystem({ directory }))
            )
          )
        }
        assert.isAbove(steps, KILLS, "the children made model calls")
        assert.isAbove(midAsk, KILLS / 2, "most kills landed after the first model call")
        yield* Effect.log(
          `${KILLS} kills (${midAsk} after a model call), ${steps} model calls, ${before.length} messages in the end`
        )
      }),
    { timeout: 300_000 }
  )
})
