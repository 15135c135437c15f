/**
 * The sandbox's worker threads. QuickJS runs synchronously, so on the caller's thread one call
 * held every other fiber there (every other session's stream) for as long as the code ran, up to
 * its limit; here each call runs on a thread of a pool.
 *
 * At most `size` calls run at once (default: one on a 2-core machine, so the other core stays
 * with the caller; at most 4); further calls wait their turn. No thread starts before the first
 * call. A thread is kept for the next call unless its call was interrupted, overran its hard stop,
 * or left its engines untrusted (`retire`), in which case it is terminated and the next call
 * starts a fresh one. A kept thread is idle: it is `unref`'d (it never keeps the process alive)
 * and terminated after `idleMs` without a call. Closing the pool terminates every thread, busy or
 * idle, and waits for them to exit; a call still running then dies with a defect that says so.
 *
 * Kept by hand rather than built on `effect/workers` + `NodeWorker`: see "sandbox pool" in
 * `bench/README.md` for the figures and the reasons (a busy thread must be terminated at once on
 * interrupt or hard stop, which the library's close handshake waits up to 5 s for).
 *
 * @internal
 */
import { availableParallelism } from "node:os"
import type { Worker } from "node:worker_threads"
import { Effect, Semaphore } from "effect"
import { HARD_STOP_GRACE_MS, timeoutMessage } from "./limits.js"
import { type Answer, defectOf, type Job, type Reply } from "./protocol.js"
import { startThread } from "./spawn.js"

/** Calls run at once by default: the cores but one (at least 1, at most 4). */
export const DEFAULT_THREADS = Math.max(1, Math.min(4, availableParallelism() - 1))
/** Idle threads (each with its loaded engines) are terminated after this long without a call. */
export const DEFAULT_IDLE_MS = 30_000
/**
 * How long past the code's own hard stop (`timeoutMs + HARD_STOP_GRACE_MS`, inside the thread) the
 * caller waits for a reply before it terminates the thread.
 */
const THREAD_GRACE_MS = 2_000

/** A pool of sandbox threads; see the module comment. */
export class ThreadPool {
  private readonly permits: Semaphore.Semaphore
  private readonly idle: Array<Worker> = []
  private readonly live = new Set<Worker>()
  private readonly retireTimers = new Map<Worker, ReturnType<typeof setTimeout>>()
  private closed = false

  constructor(
    /** Most calls that run at once (and threads that exist). */
    readonly size: number,
    /** How long an idle thread is kept, in milliseconds. */
    readonly idleMs: number
  ) {
    this.permits = Semaphore.makeUnsafe(size)
  }

  /** Threads started and not yet exited, busy or idle. */
  readonly liveThreads: Effect.Effect<number> = Effect.sync(() => this.live.size)

  /** Runs `effect` once it is a caller's turn (a thread is free, or may be started). */
  withTurn<A, E>(effect: Effect.Effect<A, E>): Effect.Effect<A, E> {
    return this.permits.withPermits(1)(
      Effect.suspend(() =>
        this.closed
          ? Effect.die(
              new Error(
                "The sandbox pool was closed, and the javascript tool still used it: provide the pool's layer around everything that uses the agent"
              )
            )
          : effect
      )
    )
  }

  /** Runs `job` on an idle thread (or a new one) and gives the thread back when it answered. Call within {@link withTurn}. */
  run(job: Job): Effect.Effect<Answer> {
    return Effect.callback<Answer>((resume) => {
      const thread = this.takeThread()
      const cancel = this.attach(thread, job, (answer) => resume(Effect.succeed(answer)))
      thread.postMessage(job)
      // interrupted: the thread is stopped where it is, and not reused
      return Effect.sync(cancel)
    })
  }

  /** Terminates every thread, busy or idle, and waits until they have exited. */
  readonly close: Effect.Effect<void> = Effect.promise(() => {
    this.closed = true
    for (const timer of this.retireTimers.values()) clearTimeout(timer)
    this.retireTimers.clear()
    this.idle.length = 0
    return Promise.all(Array.from(this.live, (thread) => thread.terminate()))
  })

  // threads

  private takeThread(): Worker {
    const kept = this.idle.pop()
    if (kept !== undefined) {
      clearTimeout(this.retireTimers.get(kept))
      this.retireTimers.delete(kept)
      kept.ref()
      return kept
    }
    const thread = startThread()
    this.live.add(thread)
    // an idle thread that fails is dropped (a busy one's call reports it, see attach)
    thread.on("error", () => void this.dropIdle(thread))
    thread.on("exit", () => {
      this.dropIdle(thread)
      this.live.delete(thread)
    })
    return thread
  }

  /** Takes `thread` out of the idle list; whether it was there. */
  private dropIdle(thread: Worker): boolean {
    clearTimeout(this.retireTimers.get(thread))
    this.retireTimers.delete(thread)
    const index = this.idle.indexOf(thread)
    if (index === -1) return false
    this.idle.splice(index, 1)
    return true
  }

  /** After a call: kept idle for the next one (unless the pool is closed), or terminated. */
  private giveBack(thread: Worker, keep: boolean): void {
    if (!keep || this.closed) {
      void thread.terminate()
      return
    }
    thread.unref()
    this.idle.push(thread)
    const timer = setTimeout(() => {
      if (this.dropIdle(thread)) void thread.terminate()
    }, this.idleMs)
    timer.unref()
    this.retireTimers.set(thread, timer)
  }

  /**
   * Listens on `thread` for `job`'s replies and calls `done` with the final one, once; arms the
   * hard stop when the code starts. Returns the cancel function (interruption: terminate).
   */
  private attach(thread: Worker, job: Job, done: (answer: Answer) => void): () => void {
    let finished = false
    let hardStop: ReturnType<typeof setTimeout> | undefined
    /** Ends this call's hold on the thread, once: kept for the next call, or terminated. */
    const release = (keep: boolean): boolean => {
      if (finished) return false
      finished = true
      clearTimeout(hardStop)
      thread.off("message", onMessage)
      thread.off("error", onError)
      thread.off("exit", onExit)
      this.giveBack(thread, keep)
      return true
    }
    const finish = (answer: Answer, keep: boolean) => {
      if (release(keep)) done(answer)
    }
    const onMessage = (reply: Reply) => {
      if (reply._tag !== "Started") return finish(reply, reply._tag !== "Defect" && !reply.retire)
      // the code runs from now; the thread's own hard stop is at most budgetMs + HARD_STOP_GRACE_MS from here
      hardStop = setTimeout(
        () => {
          const message = timeoutMessage(job.settings.timeoutMs)
          finish({ _tag: "Failure", reason: "Timeout", message, output: [], retire: true }, false)
        },
        job.budgetMs + HARD_STOP_GRACE_MS + THREAD_GRACE_MS
      )
    }
    const onError = (error: unknown) => finish(defectOf(`the sandbox thread failed: ${String(error)}`), false)
    const onExit = (code: number) =>
      finish(
        defectOf(
          this.closed
            ? "the sandbox pool was closed while this code ran: close the pool's scope only after the calls that use it"
            : `the sandbox thread exited with code ${code}`
        ),
        false
      )
    thread.on("message", onMessage)
    thread.on("error", onError)
    thread.on("exit", onExit)
    return () => void release(false)
  }
}

let shared: ThreadPool | undefined

/**
 * The process-wide pool the `javascript` tool uses when no `SandboxPool` is provided: made on
 * first use, never closed, and holding nothing while unused (its idle threads are `unref`'d and
 * terminated after {@link DEFAULT_IDLE_MS}).
 */
export const defaultPool = (): ThreadPool => {
  shared ??= new ThreadPool(DEFAULT_THREADS, DEFAULT_IDLE_MS)
  return shared
}
