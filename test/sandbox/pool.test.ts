import { assert, describe, it } from "@effect/vitest"
import { Context, Effect, Exit, Fiber, Layer, Scope } from "effect"
import { Agent, Data, JavaScript, Mock } from "../../src/index.js"
import { eventually } from "../utils/eventually.js"

// The pool's threads are real worker threads, so these run on the real clock (`it.live`).
// Node's diagnostic report lists every worker thread this process started and that has not exited
// yet: a count from outside the pool, which does not take the pool's word for it.
const workerThreads = (): number =>
  (process.report.getReport() as { readonly workers: ReadonlyArray<unknown> }).workers.length

/** One ask whose scripted model runs `code` with the javascript tool; the tool result's text. */
const askJavaScript = (code: string) =>
  Effect.gen(function* () {
    const agent = yield* Agent.make({ dataTools: [JavaScript.javascript] })
    const result = yield* agent.runResult("Compute it.")
    return result
  }).pipe(Effect.provide(Mock.layer({ turns: [Mock.toolCall("javascript", { code }), Mock.text("done")] })))

describe("JavaScript.layerPool", () => {
  it.live("building the layer starts no thread; the first javascript call starts one, on this pool", () =>
    Effect.gen(function* () {
      const before = workerThreads()
      const scope = yield* Scope.make()
      const context = yield* Layer.buildWithScope(JavaScript.layerPool({ threads: 1 }), scope)
      const pool = Context.get(context, JavaScript.SandboxPool)
      assert.strictEqual(yield* pool.liveThreads, 0)
      assert.strictEqual(workerThreads(), before, "no worker thread before the first call")
      yield* askJavaScript("6 * 7").pipe(Effect.provideContext(context))
      assert.strictEqual(yield* pool.liveThreads, 1, "the call ran on the provided pool")
      assert.strictEqual(workerThreads(), before + 1)
      yield* Scope.close(scope, Exit.void)
    })
  )

  it.live("closing the layer's scope terminates its threads: no worker thread remains", () =>
    Effect.gen(function* () {
      const before = workerThreads()
      let pool: JavaScript.SandboxPool["Service"] | undefined
      const results = yield* Effect.gen(function* () {
        pool = yield* JavaScript.SandboxPool
        // two asks at once on a pool of two threads: both threads start
        return yield* Effect.all([askJavaScript("1 + 1"), askJavaScript("2 + 2")], { concurrency: 2 })
      }).pipe(Effect.provide(JavaScript.layerPool({ threads: 2 })))
      assert.deepStrictEqual(
        results.map((result) => result.text),
        ["done", "done"]
      )
      // the layer's scope closed when `Effect.provide` ended, and its finaliser waited for the exits
      assert.strictEqual(yield* pool!.liveThreads, 0)
      assert.strictEqual(workerThreads(), before, "every thread of the pool has exited")
    })
  )

  it.live("closing the pool while a call runs stops that call's thread, and the call dies saying why", () =>
    Effect.gen(function* () {
      const before = workerThreads()
      const scope = yield* Scope.make()
      const context = yield* Layer.buildWithScope(JavaScript.layerPool({ threads: 1 }), scope)
      const tool = JavaScript.make({ timeoutMs: 60_000 })
      const fiber = yield* Effect.forkChild(
        Effect.gen(function* () {
          const agent = yield* Agent.make({ dataTools: [tool] })
          const session = yield* agent.session()
          const result = yield* session.askResult("Spin.")
          const history = yield* session.history
          const toolResult = history
            .flatMap((message) => (message.role === "user" ? message.content : []))
            .find((block) => block.type === "tool_result")
          return { result, toolResult }
        }).pipe(
          Effect.provide(
            Mock.layer({ turns: [Mock.toolCall("javascript", { code: "while (true) {}" }), Mock.text("done")] })
          ),
          Effect.provideContext(context)
        )
      )
      assert.isTrue(yield* eventually(() => workerThreads() === before + 1, 10_000), "the call's thread started")
      yield* Effect.sleep("200 millis")
      yield* Scope.close(scope, Exit.void)
      assert.strictEqual(workerThreads(), before, "the busy thread was terminated")
      const { result, toolResult } = yield* Fiber.join(fiber)
      // the tool call crashed (the model is told why), and the run went on
      assert.strictEqual(toolResult?.type, "tool_result")
      assert.include(
        String(toolResult?.type === "tool_result" ? toolResult.content : ""),
        "the sandbox pool was closed"
      )
      assert.strictEqual(result.text, "done")
    })
  )

  it.live("a call on a closed pool starts no thread, and the model is told to provide the pool around the agent", () =>
    Effect.gen(function* () {
      const before = workerThreads()
      const scope = yield* Scope.make()
      const context = yield* Layer.buildWithScope(JavaScript.layerPool(), scope)
      yield* Scope.close(scope, Exit.void)
      const outcome = yield* JavaScript.javascript
        .call(
          { code: "1" },
          {
            toolUseId: "toolu_1",
            data: yield* Data.makeStore,
            reveal: () => Effect.void,
            setAnswer: () => Effect.void
          }
        )
        .pipe(Effect.provideContext(context))
      assert.isTrue(outcome.isError)
      assert.include(outcome.content, "The sandbox pool was closed")
      assert.include(outcome.content, "provide the pool's layer around everything that uses the agent")
      assert.strictEqual(workerThreads(), before)
    })
  )

  it.live("an idle thread is terminated after idleTimeoutMs, while the pool stays usable", () =>
    Effect.gen(function* () {
      const before = workerThreads()
      yield* Effect.gen(function* () {
        const pool = yield* JavaScript.SandboxPool
        yield* askJavaScript("1")
        const retired = () => workerThreads() === before && Effect.runSync(pool.liveThreads) === 0
        assert.isTrue(yield* eventually(retired, 10_000), "the idle thread was retired")
        const again = yield* askJavaScript("2")
        assert.strictEqual(again.text, "done")
      }).pipe(Effect.provide(JavaScript.layerPool({ threads: 1, idleTimeoutMs: 50 })))
    })
  )

  it.effect("an unusable option is InvalidOptions, and no thread starts", () =>
    Effect.gen(function* () {
      const threads = yield* Effect.flip(Layer.build(JavaScript.layerPool({ threads: 0 })).pipe(Effect.scoped))
      assert.strictEqual(threads._tag, "InvalidOptions")
      assert.strictEqual(threads.option, "threads")
      assert.include(threads.message, "at least 1")
      const idle = yield* Effect.flip(Layer.build(JavaScript.layerPool({ idleTimeoutMs: -1 })).pipe(Effect.scoped))
      assert.strictEqual(idle.option, "idleTimeoutMs")
    })
  )
})
