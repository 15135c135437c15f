/**
 * The session database is locked down by DuckDB itself, behind the sql tool's parser check: no
 * extension is installed or loaded (nothing is downloaded, `$HOME` is left alone), SQL reads no
 * file but the ones put, no setting can be changed, and memory, threads and spill are bounded.
 * These tests use the trusted `store.query`, which skips the parser check, to reach the engine.
 */
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as NodePath from "node:path"
import { fileURLToPath } from "node:url"
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { Data } from "../../src/index.js"
import { entry, runScript } from "./childProcess.js"

const fixture = (name: string): string => fileURLToPath(new URL(`../fixtures/data/${name}`, import.meta.url))

const setting = (store: Data.Store, name: string) =>
  Effect.map(store.query(`SELECT current_setting('${name}') AS value`), (result) => result.rows[0]!.value)

describe("extensions", () => {
  it.live("an extension function is not installed: nothing is downloaded and $HOME stays empty", () =>
    Effect.gen(function* () {
      const home = Fs.mkdtempSync(NodePath.join(Os.tmpdir(), "data-harness-home-"))
      try {
        const results = (yield* runScript(
          `
          const { Agent, Mock, StreamEvent } = await import(${JSON.stringify(entry)})
          const { Effect, Stream } = await import("effect")
          const program = Effect.gen(function* () {
            const agent = yield* Agent.make()
            const session = yield* agent.session()
            yield* session.put("words", [{ word: "running" }])
            const events = yield* Stream.runCollect(session.askStream("Stem it."))
            yield* session.close
            return Array.from(events).filter((event) => event.type === "tool_result")
          }).pipe(Effect.scoped, Effect.provide(Mock.layer({ turns: [
            Mock.toolCall("sql", { query: "SELECT stem(word, 'porter') AS s FROM words" }),
            Mock.text("done")
          ] })))
          console.log(JSON.stringify(await Effect.runPromise(program)))
        `,
          { HOME: home, USERPROFILE: home }
        )) as ReadonlyArray<{ readonly content: string; readonly is_error: boolean }>
        assert.strictEqual(results.length, 1)
        assert.isTrue(results[0]!.is_error)
        assert.include(results[0]!.content, "fts extension")
        assert.deepStrictEqual(Fs.readdirSync(home), [], "no .duckdb directory, no download")
      } finally {
        Fs.rmSync(home, { recursive: true, force: true })
      }
    })
  )

  it.effect("INSTALL and LOAD are refused by the engine itself", () =>
    Effect.gen(function* () {
      const store = yield* Data.makeStore
      const install = yield* Effect.flip(store.query("INSTALL fts"))
      assert.include(install.message, "disabled by configuration")
      const load = yield* Effect.flip(store.query("LOAD fts"))
      assert.include(load.message, "disabled through configuration")
    }).pipe(Effect.scoped)
  )
})

describe("files", () => {
  it.effect("SQL reads the files that were put, and no other file", () =>
    Effect.gen(function* () {
      const store = yield* Data.makeStore
      yield* store.putFile("sales", fixture("sales.csv"))
      assert.deepStrictEqual((yield* store.query("SELECT count(*) AS n FROM sales")).rows, [{ n: 20 }])
      for (const sql of [
        "SELECT * FROM read_csv('/etc/passwd')",
        `SELECT * FROM read_csv('${fixture("sales.tsv")}')`,
        `SELECT * FROM read_csv('${fixture("*.csv")}')`,
        "COPY (SELECT 1) TO '/tmp/data-harness-stolen.csv'",
        "ATTACH '/tmp/data-harness-other.db' AS other"
      ]) {
        const error = yield* Effect.flip(store.query(sql))
        assert.include(error.message, "disabled by configuration", sql)
      }
      assert.isFalse(Fs.existsSync("/tmp/data-harness-stolen.csv"))
    }).pipe(Effect.scoped)
  )

  it.effect("a glob that was put is read through its directory, and stays readable after more puts", () =>
    Effect.gen(function* () {
      const store = yield* Data.makeStore
      yield* store.putFile("all_sales", fixture("sales.*"), { format: "csv" }).pipe(Effect.flip)
      yield* store.putFile("csvs", fixture("sales.csv").replace("sales.csv", "s*les.csv"))
      yield* store.putFile("json", fixture("sales.json"))
      const result = yield* store.query("SELECT (SELECT count(*) FROM csvs) AS a, (SELECT count(*) FROM json) AS b")
      assert.deepStrictEqual(result.rows, [{ a: 20, b: 20 }])
    }).pipe(Effect.scoped)
  )
})

describe("settings", () => {
  it.effect("SET is refused: the configuration is locked", () =>
    Effect.gen(function* () {
      const store = yield* Data.makeStore
      for (const sql of [
        "SET threads = 1",
        "SET enable_external_access = true",
        "SET autoinstall_known_extensions = true",
        "RESET lock_configuration"
      ]) {
        const error = yield* Effect.flip(store.query(sql))
        assert.include(error.message, "the configuration has been locked", sql)
      }
      assert.strictEqual(yield* setting(store, "enable_external_access"), false)
    }).pipe(Effect.scoped)
  )

  it.effect("memory, threads and spill are bounded, by default and by DatabaseLimits", () =>
    Effect.gen(function* () {
      const defaults = yield* Data.makeStore
      assert.strictEqual(yield* setting(defaults, "threads"), Math.max(1, Math.min(4, Os.availableParallelism())))
      assert.notStrictEqual(yield* setting(defaults, "memory_limit"), yield* Effect.succeed(""))
      const limited = yield* Data.makeStore
      const values = yield* Effect.all([
        setting(limited, "memory_limit"),
        setting(limited, "threads"),
        setting(limited, "max_temp_directory_size")
      ]).pipe(
        Effect.provideService(Data.DatabaseLimits, {
          memoryLimitBytes: 256 * 2 ** 20,
          threads: 1,
          maxTempDirectoryBytes: 2 ** 30
        })
      )
      assert.deepStrictEqual(values, ["256.0 MiB", 1, "1.0 GiB"])
    }).pipe(Effect.scoped)
  )

  it.effect("an invalid limit fails the query that opens the database, naming the limit", () =>
    Effect.gen(function* () {
      const store = yield* Data.makeStore
      const error = yield* Effect.flip(
        store.query("SELECT 1").pipe(Effect.provideService(Data.DatabaseLimits, { threads: 0 }))
      )
      assert.include(error.message, "threads is 0; expected a whole number of at least 1")
    }).pipe(Effect.scoped)
  )
})
