/**
 * The session database's lifecycle: loaded only when needed, owned by a scope, closed when the
 * scope closes (also on interruption), with its data directory; observed through the public
 * `Data.openDatabases` gauge and the database's own settings, never through garbage collection.
 */
import * as Fs from "node:fs"
import * as NodePath from "node:path"
import { fileURLToPath } from "node:url"
import { assert, describe, it } from "@effect/vitest"
import { Deferred, Effect, Exit, Fiber, Metric, Scope } from "effect"
import { Data } from "../../src/index.js"
import { entry, runScript } from "./childProcess.js"

const fixture = (name: string): string => fileURLToPath(new URL(`../fixtures/data/${name}`, import.meta.url))

const openDatabases = Effect.map(Metric.value(Data.openDatabases), (state) => state.value)

/** Where the store's database spills: its temp directory, inside the store's data directory. */
const tempDirectory = (store: Data.Store) =>
  Effect.map(store.query("SELECT current_setting('temp_directory') AS dir"), (result) => String(result.rows[0]!.dir))

describe("loading DuckDB", () => {
  it.live("importing the package does not load DuckDB's native binding; the first query does", () =>
    Effect.gen(function* () {
      const result = (yield* runScript(`
        const duckdb = () => process.report.getReport().sharedObjects.filter((path) => /duckdb/i.test(path))
        const { Data } = await import(${JSON.stringify(entry)})
        const { Effect } = await import("effect")
        const afterImport = duckdb()
        await Effect.runPromise(Effect.scoped(Effect.gen(function* () {
          const store = yield* Data.makeStore
          yield* store.query("SELECT 1")
        })))
        console.log(JSON.stringify({ afterImport, afterQuery: duckdb() }))
      `)) as { readonly afterImport: ReadonlyArray<string>; readonly afterQuery: ReadonlyArray<string> }
      assert.deepStrictEqual(result.afterImport, [], "no DuckDB library is mapped after the import")
      assert.isTrue(
        result.afterQuery.some((path) => path.endsWith("duckdb.node")),
        "the check sees the binding once a query loaded it"
      )
    })
  )
})

describe("a store's database is owned by its scope", () => {
  it.effect("it opens on first need and is closed when the scope closes", () =>
    Effect.gen(function* () {
      const before = yield* openDatabases
      const scope = yield* Scope.make()
      const store = yield* Data.makeStore.pipe(Scope.provide(scope))
      yield* store.put("t", [{ a: 1 }])
      assert.strictEqual(yield* openDatabases, before, "put does not open a database")
      assert.deepStrictEqual((yield* store.query("SELECT sum(a) AS s FROM t")).rows, [{ s: 1 }])
      assert.strictEqual(yield* openDatabases, before + 1)
      const directory = NodePath.dirname(yield* tempDirectory(store))
      assert.isTrue(Fs.existsSync(directory))
      yield* Scope.close(scope, Exit.void)
      assert.strictEqual(yield* openDatabases, before, "closing the scope closed the database")
      assert.isFalse(Fs.existsSync(directory), "and removed the store's data directory")
    })
  )

  it.live("interrupting the fiber that owns the store closes its database and removes its directory", () =>
    Effect.gen(function* () {
      const before = yield* openDatabases
      const ready = yield* Deferred.make<string>()
      const fiber = yield* Effect.forkChild(
        Effect.scoped(
          Effect.gen(function* () {
            const store = yield* Data.makeStore
            yield* store.putFile("sales", fixture("sales.csv"))
            yield* store.query("SELECT count(*) FROM sales")
            yield* Deferred.succeed(ready, yield* tempDirectory(store))
            return yield* Effect.never
          })
        )
      )
      const directory = NodePath.dirname(yield* Deferred.await(ready))
      assert.strictEqual(yield* openDatabases, before + 1)
      yield* Fiber.interrupt(fiber)
      assert.strictEqual(yield* openDatabases, before)
      assert.isFalse(Fs.existsSync(directory))
    })
  )

  it.effect("each store spills into a directory of its own, and close releases it while the store stays usable", () =>
    Effect.gen(function* () {
      const a = yield* Data.makeStore
      const b = yield* Data.makeStore
      const dirA = yield* tempDirectory(a)
      const dirB = yield* tempDirectory(b)
      assert.notStrictEqual(NodePath.dirname(dirA), NodePath.dirname(dirB))
      yield* a.close
      assert.isFalse(Fs.existsSync(NodePath.dirname(dirA)))
      assert.isTrue(Fs.existsSync(NodePath.dirname(dirB)))
      const reopened = yield* tempDirectory(a)
      assert.notStrictEqual(NodePath.dirname(reopened), NodePath.dirname(dirA), "later use opens a fresh one")
    }).pipe(Effect.scoped)
  )
})

describe("files put after the database opened", () => {
  it.effect("are readable: the database reopens with them allowed, and saved results are carried over", () =>
    Effect.gen(function* () {
      const store = yield* Data.makeStore
      yield* store.put("t", [{ k: "north" }, { k: "west" }])
      const saved = yield* store.saveQuery("kept", "SELECT k, length(k) AS n FROM t ORDER BY k")
      yield* store.putFile("sales", fixture("sales.parquet"))
      const joined = yield* store.query(
        "SELECT kept.k, kept.n, count(*) AS rows FROM kept JOIN sales ON sales.region = kept.k GROUP BY ALL ORDER BY kept.k"
      )
      assert.strictEqual(saved, "kept")
      assert.deepStrictEqual(joined.rows, [
        { k: "north", n: 5, rows: 5 },
        { k: "west", n: 4, rows: 5 }
      ])
    }).pipe(Effect.scoped)
  )
})
