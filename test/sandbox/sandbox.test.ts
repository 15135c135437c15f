import { assert, describe, it } from "@effect/vitest"
import { Effect, Fiber } from "effect"
import * as Sandbox from "../../src/sandbox/sandbox.js"

// Every call that does not reset the engine ends by freeing its QuickJS runtime, and this build
// aborts if any handle is still alive then; so each passing test here is also a leak check.

const MiB = 1024 * 1024

const run = (code: string, globals: Readonly<Record<string, unknown>> = {}, options?: Sandbox.SandboxOptions) =>
  Sandbox.run(code, globals, options)

const failure = (code: string, globals: Readonly<Record<string, unknown>> = {}, options?: Sandbox.SandboxOptions) =>
  Effect.flip(Sandbox.run(code, globals, options))

/** The host still works: a new call computes normally. */
const assertHealthy = Effect.gen(function* () {
  const result = yield* run("[1, 2, 3].map((n) => n * 2)")
  assert.deepStrictEqual(result.value, [2, 4, 6])
})

describe("Sandbox.run", () => {
  describe("results", () => {
    it.effect("computes over a provided global array of records", () =>
      Effect.gen(function* () {
        const rows = Array.from({ length: 1_000 }, (_, i) => ({
          id: i,
          region: i % 2 === 0 ? "north" : "south",
          amount: i
        }))
        const result = yield* run(
          `const byRegion = {};
           for (const row of rows) byRegion[row.region] = (byRegion[row.region] ?? 0) + row.amount;
           ({ total: rows.reduce((sum, row) => sum + row.amount, 0), byRegion })`,
          { rows }
        )
        assert.deepStrictEqual(result.value, { total: 499_500, byRegion: { north: 249_500, south: 250_000 } })
      })
    )

    it.effect("returns the value of the last expression", () =>
      Effect.gen(function* () {
        assert.strictEqual((yield* run("const x = 20; x + 1")).value, 21)
        assert.strictEqual((yield* run("'a' + 'b'")).value, "ab")
        assert.deepStrictEqual((yield* run("({ nested: [1, { ok: true }, null] })")).value, {
          nested: [1, { ok: true }, null]
        })
        assert.strictEqual((yield* run("const unused = 1")).value, undefined)
        assert.strictEqual((yield* run("(function named() {})")).value, undefined)
        assert.strictEqual((yield* run("undefined")).value, undefined)
      })
    )

    it.effect("converts values JSON cannot express", () =>
      Effect.gen(function* () {
        const result = yield* run(
          "({ small: 2n ** 10n, large: 2n ** 70n, nan: NaN, date: new Date(0), map: new Map([['a', 1]]), set: new Set([1, 2]) })"
        )
        assert.deepStrictEqual(result.value, {
          small: 1024,
          large: "1180591620717411303424",
          nan: null,
          date: "1970-01-01T00:00:00.000Z",
          map: { a: 1 },
          set: [1, 2]
        })
      })
    )

    it.effect("passes host values JSON cannot express: undefined skipped, bigint and Date converted", () =>
      Effect.gen(function* () {
        const result = yield* run("[typeof skipped, 'skipped' in globalThis, small, typeof large, large, when]", {
          skipped: undefined,
          small: 42n,
          large: 2n ** 64n,
          when: new Date(Date.UTC(2024, 0, 2))
        })
        assert.deepStrictEqual(result.value, [
          "undefined",
          false,
          42,
          "string",
          "18446744073709551616",
          "2024-01-02T00:00:00.000Z"
        ])
      })
    )

    it.effect("resolves a returned promise, so an async IIFE works", () =>
      Effect.gen(function* () {
        const result = yield* run(
          "(async () => { const a = await Promise.resolve(20); answer(a * 2); return a + 1 })()"
        )
        assert.strictEqual(result.value, 21)
        assert.deepStrictEqual(result.answer, { value: 40 })
      })
    )

    it.effect("starts every call from fresh locals and globals", () =>
      Effect.gen(function* () {
        yield* run("var leaked = 1; let local = 2; globalThis.alsoLeaked = 3; Array.prototype.evil = 4")
        const result = yield* run("[typeof leaked, typeof local, typeof alsoLeaked, typeof [].evil]")
        assert.deepStrictEqual(result.value, ["undefined", "undefined", "undefined", "undefined"])
      })
    )
  })

  describe("host functions", () => {
    it.effect("captures console output, formatting non-strings as JSON", () =>
      Effect.gen(function* () {
        const result = yield* run(
          `console.log("total:", 3, { a: [1, "x"] }, null, undefined);
           console.info("info"); console.warn("warn"); console.error(new TypeError("bad"));
           console.log(10n, [1, 2], "multi\\nline")`
        )
        assert.strictEqual(result.output[0], 'total: 3 {"a":[1,"x"]} null undefined')
        assert.strictEqual(result.output[1], "info")
        assert.strictEqual(result.output[2], "warn")
        assert.match(result.output[3] ?? "", /^TypeError: bad\n {4}at <eval> \(agent\.js:2:/)
        assert.strictEqual(result.output[4], "10n [1,2] multi\nline")
        assert.strictEqual(result.output.length, 5)
      })
    )

    it.effect("caps the printed output and marks the cut", () =>
      Effect.gen(function* () {
        const result = yield* run(
          "for (let i = 0; i < 10000; i++) console.log('line ' + i); 'done'",
          {},
          {
            maxOutputBytes: 1_000
          }
        )
        assert.strictEqual(result.value, "done")
        const last = result.output[result.output.length - 1] ?? ""
        assert.isTrue(last.endsWith("…(truncated)"))
        const utf8 = (text: string) => new TextEncoder().encode(text).length
        const bytes = result.output.reduce((sum, line) => sum + utf8(line) + 1, 0)
        assert.isAtMost(bytes, 1_000 + utf8("…(truncated)") + 1)
        assert.strictEqual(result.output[0], "line 0")
      })
    )

    it.effect("records saved values and the answer", () =>
      Effect.gen(function* () {
        const result = yield* run(
          `const name = save("totals", { north: 1, south: 2 });
           save("ids", [1, 2, 3]);
           save("totals", { north: 10 });
           answer({ text: "north leads", value: 10 });
           name`
        )
        assert.strictEqual(result.value, "totals")
        assert.deepStrictEqual(result.saved, [
          { name: "totals", value: { north: 10 } },
          { name: "ids", value: [1, 2, 3] }
        ])
        assert.deepStrictEqual(result.answer, { value: { text: "north leads", value: 10 } })
      })
    )

    it.effect("reports no answer when answer() is not called", () =>
      Effect.gen(function* () {
        const result = yield* run("1")
        assert.strictEqual(result.answer, undefined)
        assert.deepStrictEqual(result.saved, [])
        assert.deepStrictEqual(result.output, [])
      })
    )

    it.effect("rejects a save with an invalid name or a non-JSON value", () =>
      Effect.gen(function* () {
        const badName = yield* failure("save('not a name', 1)")
        assert.strictEqual(badName.reason, "RuntimeError")
        assert.include(badName.message, "save(name, value): name must be a valid JavaScript identifier")
        const badValue = yield* failure("const o = {}; o.self = o; save('o', o)")
        assert.strictEqual(badValue.reason, "RuntimeError")
        assert.include(badValue.message, "value cannot be converted to JSON")
      })
    )
  })

  describe("errors", () => {
    it.effect("reports a syntax error with its position", () =>
      Effect.gen(function* () {
        const error = yield* failure("const x = 1;\nconst y = ;")
        assert.strictEqual(error._tag, "SandboxError")
        assert.strictEqual(error.reason, "SyntaxError")
        assert.include(error.message, "SyntaxError: unexpected token")
        assert.include(error.message, "line 2")
      })
    )

    it.effect("explains that top-level await is not supported", () =>
      Effect.gen(function* () {
        const error = yield* failure("const x = await Promise.resolve(1)\nx")
        assert.strictEqual(error.reason, "SyntaxError")
        assert.include(error.message, "(async () => { ... })()")
      })
    )

    it.effect("reports a thrown error with name, message and stack, keeping earlier output", () =>
      Effect.gen(function* () {
        const error = yield* failure(
          `console.log("before");
           function check(row) { if (row.amount < 0) throw new RangeError("negative amount in row " + row.id) }
           rows.forEach(check)`,
          {
            rows: [
              { id: 1, amount: 5 },
              { id: 2, amount: -1 }
            ]
          }
        )
        assert.strictEqual(error.reason, "RuntimeError")
        assert.include(error.message, "RangeError: negative amount in row 2")
        assert.include(error.message, "at check (agent.js:2:")
        assert.deepStrictEqual(error.output, ["before"])
      })
    )

    it.effect("reports a runtime TypeError and a thrown non-Error value", () =>
      Effect.gen(function* () {
        const typeError = yield* failure("const row = null; row.amount")
        assert.strictEqual(typeError.reason, "RuntimeError")
        assert.include(typeError.message, "TypeError: cannot read property 'amount' of null")
        const thrown = yield* failure("throw 'plain string'")
        assert.strictEqual(thrown.reason, "RuntimeError")
        assert.include(thrown.message, "non-Error value: plain string")
      })
    )

    it.effect("reports a rejected promise result as a runtime error", () =>
      Effect.gen(function* () {
        const error = yield* failure("(async () => { throw new Error('async boom') })()")
        assert.strictEqual(error.reason, "RuntimeError")
        assert.include(error.message, "Error: async boom")
      })
    )

    it.effect("rejects a result that cannot be converted to JSON", () =>
      Effect.gen(function* () {
        const error = yield* failure("const o = { a: 1 }; o.self = o; o")
        assert.strictEqual(error.reason, "InvalidResult")
        assert.include(error.message, "circular reference")
      })
    )

    it.effect("rejects a promise result that never settles", () =>
      Effect.gen(function* () {
        const error = yield* failure("new Promise(() => {})")
        assert.strictEqual(error.reason, "InvalidResult")
        assert.include(error.message, "never settled")
      })
    )

    it.effect("reports deep recursion as a stack overflow with a short stack", () =>
      Effect.gen(function* () {
        const error = yield* failure("function down(n) { return down(n + 1) + 1 }\ndown(0)")
        assert.strictEqual(error.reason, "RuntimeError")
        assert.include(error.message, "stack overflow")
        assert.include(error.message, "more frames")
        assert.isBelow(error.message.split("\n").length, 16)
        yield* assertHealthy
      })
    )

    it.effect("survives nesting deep enough to exhaust the host stack inside the engine", () =>
      Effect.gen(function* () {
        const error = yield* failure("JSON.parse('['.repeat(200000))")
        assert.strictEqual(error.reason, "RuntimeError")
        assert.include(error.message, "stack")
        yield* assertHealthy
      })
    )
  })

  describe("isolation", () => {
    it.effect("has no host globals, modules or I/O", () =>
      Effect.gen(function* () {
        const result = yield* run(
          "[typeof require, typeof process, typeof fetch, typeof module, typeof Buffer, typeof setTimeout, typeof WebAssembly, typeof std, typeof os]"
        )
        assert.deepStrictEqual(
          result.value,
          Array.from({ length: 9 }, () => "undefined")
        )
      })
    )

    it.effect("require('fs') fails inside the sandbox", () =>
      Effect.gen(function* () {
        const error = yield* failure("require('fs').readFileSync('/etc/passwd', 'utf8')")
        assert.strictEqual(error.reason, "RuntimeError")
        assert.include(error.message, "ReferenceError: 'require' is not defined")
        assert.include(error.message, "no modules, file system, network")
        yield* assertHealthy
      })
    )

    it.effect("import('fs') fails inside the sandbox", () =>
      Effect.gen(function* () {
        const error = yield* failure("import('fs').then((fs) => fs.readFileSync('/etc/passwd', 'utf8'))")
        assert.strictEqual(error.reason, "RuntimeError")
        assert.include(error.message, "could not load module 'fs'")
        const staticImport = yield* failure("import fs from 'fs'\nfs")
        assert.strictEqual(staticImport.reason, "SyntaxError")
        yield* assertHealthy
      })
    )

    it.effect("process.exit() fails inside the sandbox and the host keeps running", () =>
      Effect.gen(function* () {
        const exitCode = process.exitCode
        const error = yield* failure("process.exit(1)")
        assert.strictEqual(error.reason, "RuntimeError")
        assert.include(error.message, "ReferenceError: 'process' is not defined")
        assert.strictEqual(process.exitCode, exitCode)
        yield* assertHealthy
      })
    )

    it.effect("the Function constructor cannot reach the host's process", () =>
      Effect.gen(function* () {
        const error = yield* failure("globalThis.constructor.constructor('return process')()")
        assert.strictEqual(error.reason, "RuntimeError")
        assert.include(error.message, "ReferenceError: 'process' is not defined")
        const result = yield* run("[Function('return this')() === globalThis, Function('return typeof process')()]")
        assert.deepStrictEqual(result.value, [true, "undefined"])
      })
    )

    it.effect("fetch fails inside the sandbox", () =>
      Effect.gen(function* () {
        const error = yield* failure("fetch('http://127.0.0.1')")
        assert.strictEqual(error.reason, "RuntimeError")
        assert.include(error.message, "ReferenceError: 'fetch' is not defined")
      })
    )

    it.effect("an infinite loop is stopped at the deadline", () =>
      Effect.gen(function* () {
        const started = performance.now()
        const error = yield* failure("console.log('spinning'); while (true) {}", {}, { timeoutMs: 200 })
        const elapsed = performance.now() - started
        assert.strictEqual(error.reason, "Timeout")
        assert.include(error.message, "longer than 200 ms")
        assert.deepStrictEqual(error.output, ["spinning"])
        assert.isBelow(elapsed, 1_500)
        yield* assertHealthy
      })
    )

    it.effect("a try/catch cannot swallow the timeout, nor can an endless promise chain escape it", () =>
      Effect.gen(function* () {
        const caught = yield* failure("try { while (true) {} } catch (e) { 'escaped' }", {}, { timeoutMs: 200 })
        assert.strictEqual(caught.reason, "Timeout")
        const jobs = yield* failure("(async () => { while (true) await null })(); 1", {}, { timeoutMs: 200 })
        assert.strictEqual(jobs.reason, "Timeout")
      })
    )

    it.effect("a loop of long native calls is stopped by force soon after the deadline", () =>
      Effect.gen(function* () {
        // Each default sort runs for a long time without QuickJS polling its interrupt handler, and
        // the loop polls only every few thousand iterations: only the hard stop can end this.
        const started = performance.now()
        const error = yield* failure(
          "const a = Array.from({ length: 2e5 }, (_, i) => (i * 7919) % 2e5); console.log('sorting'); while (true) a.slice().sort()",
          {},
          { timeoutMs: 200 }
        )
        const elapsed = performance.now() - started
        assert.strictEqual(error.reason, "Timeout")
        assert.include(error.message, "longer than 200 ms")
        assert.deepStrictEqual(error.output, ["sorting"])
        assert.isBelow(elapsed, 3_000)
        yield* assertHealthy
      })
    )

    it.effect("a memory bomb of arrays comes back as out of memory and the host stays healthy", () =>
      Effect.gen(function* () {
        const error = yield* failure(
          "let a = []; while (true) a.push(new Array(1e6).fill(1))",
          {},
          {
            memoryBytes: 16 * MiB
          }
        )
        assert.strictEqual(error.reason, "OutOfMemory")
        assert.include(error.message, "ran out of memory")
        assert.include(error.message, "16 MiB")
        yield* assertHealthy
        const again = yield* run(
          "let a = []; for (let i = 0; i < 1e5; i++) a.push({ i }); a.length",
          {},
          {
            memoryBytes: 16 * MiB
          }
        )
        assert.strictEqual(again.value, 100_000)
      })
    )

    it.effect("a memory bomb of small objects or strings comes back as out of memory", () =>
      Effect.gen(function* () {
        const objects = yield* failure(
          "const a = []; while (true) a.push({ i: a.length, s: 'x' + a.length })",
          {},
          {
            memoryBytes: 16 * MiB
          }
        )
        assert.strictEqual(objects.reason, "OutOfMemory")
        const strings = yield* failure(
          "const a = []; while (true) a.push('x'.repeat(1e6))",
          {},
          {
            memoryBytes: 16 * MiB
          }
        )
        assert.strictEqual(strings.reason, "OutOfMemory")
        const doubling = yield* failure("let s = 'x'; while (true) s += s", {}, { memoryBytes: 16 * MiB })
        assert.strictEqual(doubling.reason, "OutOfMemory")
        assert.include(doubling.message, "string longer than the engine allows")
        yield* assertHealthy
      })
    )

    it.effect("input data too large for the memory limit is refused before it reaches the engine", () =>
      Effect.gen(function* () {
        const error = yield* failure("data.length", { data: "x".repeat(2 * MiB) }, { memoryBytes: 4 * MiB })
        assert.strictEqual(error.reason, "OutOfMemory")
        assert.include(error.message, "The input data is")
      })
    )

    it.effect("Object.prototype pollution inside the sandbox does not reach the host", () =>
      Effect.gen(function* () {
        const result = yield* run(
          `Object.prototype.polluted = 1;
           Array.prototype.map = () => "hijacked";
           JSON.stringify = () => "hijacked";
           ({ seen: ({}).polluted, ["__proto__"]: { polluted: 2 } })`
        )
        assert.strictEqual(({} as Record<string, unknown>).polluted, undefined)
        assert.deepStrictEqual(
          [1, 2].map((n) => n + 1),
          [2, 3]
        )
        assert.strictEqual(JSON.stringify({ a: 1 }), '{"a":1}')
        // The returned object is plain host data: `__proto__` is an own key, not its prototype.
        const value = result.value as Record<string, unknown>
        assert.strictEqual(value.seen, 1)
        assert.strictEqual(Object.getPrototypeOf(value), Object.prototype)
        assert.isTrue(Object.hasOwn(value, "__proto__"))
        yield* assertHealthy
      })
    )
  })
})

// The code runs on a worker thread; these two check what only real threads can show, so they run
// on the real clock (`it.live`): a TestClock cannot move a busy loop on another thread.
describe("Sandbox.run on its own thread", () => {
  it.live("the caller's thread goes on while the code runs", () =>
    Effect.gen(function* () {
      yield* assertHealthy // a thread is up and its engine loaded
      let ticks = 0
      let running = true
      const tick = () => {
        ticks++
        if (running) setImmediate(tick)
      }
      tick()
      const result = yield* run(
        "const end = Date.now() + 300; let spins = 0; while (Date.now() < end) spins++; spins > 0"
      )
      running = false
      assert.strictEqual(result.value, true)
      // on the caller's thread the ticks could not have run until the code had finished
      assert.isAbove(ticks, 100)
    })
  )

  it.live("a limit beyond Node's timers (2^31 ms) is capped, not fired at once", () =>
    Effect.gen(function* () {
      for (const timeoutMs of [3e9, 2 ** 31 - 1]) {
        const result = yield* run("const end = Date.now() + 20; while (Date.now() < end); 42", {}, { timeoutMs })
        assert.strictEqual(result.value, 42)
      }
    })
  )

  it.live("interrupting a call stops its code where it is, and the next call runs", () =>
    Effect.gen(function* () {
      yield* assertHealthy
      const fiber = yield* Effect.forkChild(run("while (true) {}", {}, { timeoutMs: 60_000 }))
      yield* Effect.sleep("200 millis")
      yield* Fiber.interrupt(fiber)
      const before = process.cpuUsage()
      yield* Effect.sleep("400 millis")
      const used = process.cpuUsage(before)
      // a thread still spinning would use the whole 400 ms
      assert.isBelow((used.user + used.system) / 1000, 200, "the interrupted code no longer runs")
      yield* assertHealthy
    })
  )
})
