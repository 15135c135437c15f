/**
 * A sandbox thread's entry: runs the jobs the pool posts, one at a time, on this worker thread's
 * own QuickJS engines, and posts back a `Started` when the untrusted code starts and one final
 * `Reply`. Started by `pool.ts`; not imported anywhere else.
 *
 * @internal
 */
import { parentPort } from "node:worker_threads"
import { makeEngines } from "./engine.js"
import { execute, type Outcome } from "./execute.js"
import { type Answer, defectOf, type Job, type Started } from "./protocol.js"

const port = parentPort
if (port === null) throw new Error("thread.ts is a sandbox thread's entry, not a module to import")

const engines = makeEngines()
const started: Started = { _tag: "Started" }

const answerOf = (outcome: Outcome, ranMs: number): Answer =>
  outcome._tag === "Success"
    ? { _tag: "Success", result: outcome.result, ranMs, retire: engines.shouldRetire() }
    : {
        _tag: "Failure",
        reason: outcome.explanation.reason,
        message: outcome.explanation.message,
        output: outcome.output,
        retire: engines.shouldRetire()
      }

const run = async (job: Job): Promise<Answer> => {
  const engine = await engines.load(job.settings.wasmBytes)
  // loading an engine is not the call's time
  const loaded = performance.now()
  const outcome = execute(
    engine,
    job,
    () => engines.discard(engine),
    () => port.postMessage(started)
  )
  return answerOf(outcome, performance.now() - loaded)
}

port.on("message", (job: Job) => {
  void run(job)
    .catch(defectOf)
    .then((answer) => {
      try {
        port.postMessage(answer)
      } catch (error) {
        // a result the structured clone cannot carry (it is strings and arrays, so this is a bug)
        port.postMessage(defectOf(`the sandbox result could not be sent: ${String(error)}`))
      }
    })
})
