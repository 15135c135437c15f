/**
 * The worker threads the `javascript` tool runs code on, as a service with a scoped lifecycle.
 *
 * Provide `layer(...)` (re-exported as `JavaScript.layerPool`) around everything that uses an
 * agent, and the `javascript` tool runs its calls on that pool. Building the layer starts
 * nothing: the first call starts a thread (and the thread loads QuickJS). Closing the layer's
 * scope terminates every thread of the pool and waits until they have exited, so nothing is left
 * for garbage collection or process exit to free.
 *
 * Without a `SandboxPool` in context, the tool uses a process-wide default pool: made on first
 * use and never closed, but holding nothing while unused, because its idle threads are `unref`'d
 * (they never keep the process alive) and terminated after 30 s without a call (so are idle
 * threads of a layer's pool, after `idleTimeoutMs`).
 *
 * The tool finds the pool in the context the agent captured at `Agent.make`, so provide the layer
 * where the agent is built and used, not to `Agent.make` alone (whose scope ends at once).
 *
 * @example
 * ```ts
 * import { Agent, JavaScript } from "data-harness"
 * const program = Effect.gen(function* () {
 *   const agent = yield* Agent.make({})
 *   return yield* agent.run("What is the total revenue?")
 * }).pipe(Effect.provide(JavaScript.layerPool({ threads: 2 })))
 * ```
 * @since 0.1.0
 */
import { Context, Effect, Layer, type Scope } from "effect"
import { InvalidOptions } from "../core/HarnessError.js"
import { DEFAULT_IDLE_MS, DEFAULT_THREADS, ThreadPool } from "./pool.js"

/**
 * Options of {@link layer}.
 * @since 0.1.0
 */
export interface Options {
  /** Most calls that run at once, one thread each (default: the cores but one, at least 1, at most 4). */
  readonly threads?: number | undefined
  /** How long an idle thread is kept for the next call, in milliseconds (default 30,000; 0: not kept). */
  readonly idleTimeoutMs?: number | undefined
}

/**
 * What a pool tells about itself.
 * @since 0.1.0
 */
export interface Service {
  /** Most calls that run at once (and threads that exist). */
  readonly size: number
  /** Threads started and not yet exited, busy or idle: 0 before the first call and after the pool closed. */
  readonly liveThreads: Effect.Effect<number>
}

/**
 * The sandbox thread pool the `javascript` tool runs code on.
 * @since 0.1.0
 */
export class SandboxPool extends Context.Service<SandboxPool, Service>()("data-harness/SandboxPool") {}

const resolve = (options: Options): { readonly threads: number; readonly idleMs: number } | InvalidOptions => {
  const threads = options.threads ?? DEFAULT_THREADS
  if (!Number.isInteger(threads) || threads < 1) {
    return new InvalidOptions({
      option: "threads",
      message: `threads must be a whole number of at least 1, not ${String(threads)}.`
    })
  }
  const idleMs = options.idleTimeoutMs ?? DEFAULT_IDLE_MS
  // capped within Node's timers (a longer one fires at once)
  if (typeof idleMs !== "number" || !(idleMs >= 0) || idleMs > 2 ** 31 - 1) {
    return new InvalidOptions({
      option: "idleTimeoutMs",
      message: `idleTimeoutMs must be a number of milliseconds from 0 to 2147483647, not ${String(idleMs)}.`
    })
  }
  return { threads, idleMs }
}

/**
 * A pool in the current scope: no thread runs until the first call; closing the scope terminates
 * every thread and waits for them to exit. Fails with `InvalidOptions` on an unusable option.
 * @since 0.1.0
 */
export const make = (options: Options = {}): Effect.Effect<Service, InvalidOptions, Scope.Scope> =>
  Effect.suspend(() => {
    const resolved = resolve(options)
    if (resolved instanceof InvalidOptions) return Effect.fail(resolved)
    return Effect.acquireRelease(
      Effect.sync((): Service => new ThreadPool(resolved.threads, resolved.idleMs)),
      (pool) => (pool as ThreadPool).close
    )
  })

/**
 * A {@link SandboxPool} for as long as the layer lives; see {@link make}.
 * @since 0.1.0
 */
export const layer = (options: Options = {}): Layer.Layer<SandboxPool, InvalidOptions> =>
  Layer.effect(SandboxPool, make(options))
