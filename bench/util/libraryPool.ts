/**
 * The library version of the sandbox's thread pool, for `bench/sandbox.ts` only: threads from
 * `effect/workers` with `@effect/platform-node`'s `NodeWorker` (spawn, ready handshake, message
 * framing, close handshake), pooled by `effect/Pool` with a time to live, running the same jobs
 * on the same thread code (`libraryThread.mjs`). What it does not do by itself, and the harness's
 * pool does: terminate a busy thread the moment its call is interrupted (the pool invalidates the
 * item; NodeWorker's finaliser then asks the thread to close and waits up to 5 s before killing
 * it), `unref` idle threads, and arm a hard stop when the code starts.
 */
import { Worker as NodeThread } from "node:worker_threads"
import * as NodeWorker from "@effect/platform-node/NodeWorker"
import { Deferred, type Duration, Effect, Exit, Pool, type Scope } from "effect"
import * as Worker from "effect/workers/Worker"
import type { Answer, Job, Reply } from "../../src/sandbox/protocol.js"

const entry = new URL("./libraryThread.mjs", import.meta.url)

/** Runs jobs on a pool of `size` library workers, idle ones kept for `timeToLive`; the pool lives as long as the scope. */
export const makeLibraryPool = (
  size: number,
  timeToLive: Duration.Input = "30 seconds"
): Effect.Effect<(job: Job) => Effect.Effect<Answer, unknown>, never, Scope.Scope> =>
  Effect.gen(function* () {
    const platform = yield* Worker.WorkerPlatform
    let ids = 0
    const acquire = Effect.gen(function* () {
      const worker = yield* platform.spawn<Reply, Job>(ids++)
      let pending: Deferred.Deferred<Answer> | undefined
      yield* Effect.forkScoped(
        worker.run((reply) =>
          Effect.sync(() => {
            if (reply._tag !== "Started" && pending !== undefined) Deferred.doneUnsafe(pending, Exit.succeed(reply))
          })
        )
      )
      return {
        call: (job: Job) =>
          Effect.suspend(() => {
            const deferred = Deferred.makeUnsafe<Answer>()
            pending = deferred
            return Effect.andThen(worker.send(job), Deferred.await(deferred))
          })
      }
    })
    const pool = yield* Pool.makeWithTTL({ acquire, min: 0, max: size, timeToLive })
    return (job: Job) =>
      Effect.scoped(
        Effect.flatMap(Pool.get(pool), (worker) =>
          worker.call(job).pipe(Effect.onInterrupt(() => Pool.invalidate(pool, worker)))
        )
      )
  }).pipe(Effect.provide(NodeWorker.layer(() => new NodeThread(entry))))
