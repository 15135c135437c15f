import * as ChildProcess from "node:child_process"
import * as FsP from "node:fs/promises"
import * as Os from "node:os"
import * as Path from "node:path"
import { afterAll, assert, beforeAll, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import * as Message from "../../src/core/Message.js"
import * as SessionStore from "../../src/store/SessionStore.js"
import { storeContract } from "./contract.js"
import { bundleChild, removeBundle } from "./crash.js"
import { reasonOf, withStore } from "./helpers.js"

let directory = ""
beforeAll(async () => {
  directory = await FsP.mkdtemp(Path.join(Os.tmpdir(), "dh-store-fs-"))
})
afterAll(async () => {
  await FsP.rm(directory, { recursive: true, force: true })
  await removeBundle()
})

const subject = {
  name: "layerFileSystem",
  layer: () => SessionStore.layerFileSystem({ directory }),
  persistent: true,
  child: () => ({ kind: "fileSystem", directory }) as const
}

storeContract(subject)

/** The log file of a session (its tenant directory name is an encoding of the tenant). */
const logFile = (tenant: string, id: string) =>
  Path.join(directory, "sessions", `t${Buffer.from(tenant).toString("base64url")}`, `${id}.jsonl`)

describe("SessionStore.layerFileSystem on disk", () => {
  it.live("a torn last line (a crash inside a write) is dropped and cut off, so the next commit appends cleanly", () =>
    Effect.gen(function* () {
      const key = { tenant: "torn", id: "s" }
      yield* withStore(subject, (store) =>
        Effect.gen(function* () {
          yield* store.create("torn", { id: "s" })
          yield* store.commit(key, SessionStore.userStep("q"))
        })
      )
      const file = logFile("torn", "s")
      const whole = yield* Effect.promise(() => FsP.readFile(file, "utf8"))
      yield* Effect.promise(() => FsP.appendFile(file, '{"seq":2,"at":1,"steps":[{"_tag":"Tur'))
      const seq = yield* withStore(subject, (store) =>
        Effect.gen(function* () {
          assert.strictEqual((yield* store.load(key)).seq, 1)
          assert.strictEqual(yield* Effect.promise(() => FsP.readFile(file, "utf8")), whole)
          return yield* store.commit(key, SessionStore.userStep("again"))
        })
      )
      assert.strictEqual(seq, 2)
      const lines = (yield* Effect.promise(() => FsP.readFile(file, "utf8"))).split("\n")
      assert.strictEqual(lines.pop(), "")
      for (const line of lines) JSON.parse(line)
      const session = yield* withStore(subject, (store) => store.load(key))
      assert.deepStrictEqual(session.history, [Message.user([Message.text("q"), Message.text("again")])])
    })
  )

  it.live("a damaged line inside a log is Corrupt, with a message that says what to do", () =>
    Effect.gen(function* () {
      const key = { tenant: "damaged", id: "s" }
      yield* withStore(subject, (store) =>
        Effect.gen(function* () {
          yield* store.create("damaged", { id: "s" })
          yield* store.commit(key, SessionStore.userStep("q"))
        })
      )
      const file = logFile("damaged", "s")
      const lines = (yield* Effect.promise(() => FsP.readFile(file, "utf8"))).split("\n")
      lines.splice(1, 0, '{"seq": "not a number"}')
      yield* Effect.promise(() => FsP.writeFile(file, lines.join("\n")))
      const error = yield* withStore(subject, (store) => Effect.flip(store.load(key)))
      assert.strictEqual(error.reason, "Corrupt")
      assert.include(error.message, "backup")
    })
  )

  it.live("the directory is Locked while another process has it open, and free once that process is killed", () =>
    Effect.gen(function* () {
      const bundle = yield* Effect.promise(() => bundleChild())
      const spec = { kind: "fileSystem", directory, tenant: "lock", id: "s" }
      const child = ChildProcess.spawn(process.execPath, [bundle, JSON.stringify(spec)], {
        stdio: ["ignore", "pipe", "inherit"]
      })
      // running: it has committed
      yield* Effect.promise(
        () =>
          new Promise<void>((resolve) => {
            let output = ""
            child.stdout.on("data", (chunk: Buffer) => {
              output += chunk.toString()
              if (output.includes("committed")) resolve()
            })
          })
      )
      const error = yield* Effect.flip(withStore(subject, () => Effect.void))
      assert.strictEqual(error.reason, "Locked")
      assert.include(error.message, `process ${child.pid}`)
      assert.include(error.message, "layerPostgres")
      child.kill("SIGKILL")
      yield* Effect.promise(() => new Promise((resolve) => child.once("exit", resolve)))
      assert.isAbove((yield* withStore(subject, (store) => store.load({ tenant: "lock", id: "s" }))).seq, 0)
    })
  )

  it.live("two stores on one directory in one process: the second is Locked", () =>
    withStore(subject, () =>
      Effect.gen(function* () {
        assert.strictEqual(yield* reasonOf(withStore(subject, () => Effect.void)), "Locked")
      })
    )
  )
})
