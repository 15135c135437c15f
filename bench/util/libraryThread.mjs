/**
 * The sandbox thread of the library contender in `bench/sandbox.ts`: the same job runner as the
 * harness's own thread (`dist/sandbox/job.js`), served through `effect/workers`' runner protocol
 * (`@effect/platform-node/NodeWorkerRunner`) instead of a bare `parentPort` listener.
 * Plain JavaScript over the build, so a worker thread loads it without tsx.
 */
import * as NodeWorkerRunner from "@effect/platform-node/NodeWorkerRunner"
import * as Effect from "effect/Effect"
import { WorkerRunnerPlatform } from "effect/workers/WorkerRunner"
import { makeEngines } from "../../dist/sandbox/engine.js"
import { runJob } from "../../dist/sandbox/job.js"
import { defectOf } from "../../dist/sandbox/protocol.js"

const engines = makeEngines()

const program = Effect.gen(function* () {
  const platform = yield* WorkerRunnerPlatform
  const runner = yield* platform.start()
  yield* runner.run((portId, job) =>
    Effect.promise(() =>
      runJob(engines, job, () => runner.sendUnsafe(portId, { _tag: "Started" })).catch(defectOf)
    ).pipe(Effect.flatMap((answer) => runner.send(portId, answer)))
  )
})

Effect.runFork(program.pipe(Effect.provide(NodeWorkerRunner.layer)))
