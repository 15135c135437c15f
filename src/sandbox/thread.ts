/**
 * A sandbox thread's entry: runs the jobs the pool posts, one at a time, on this worker thread's
 * own QuickJS engines, and posts back a `Started` when the untrusted code starts and one final
 * reply. Started by `pool.ts` (through `spawn.ts`); not imported anywhere else.
 *
 * @internal
 */
import { parentPort } from "node:worker_threads"
import { makeEngines } from "./engine.js"
import { runJob } from "./job.js"
import { defectOf, type Job, type Started } from "./protocol.js"

const port = parentPort
if (port === null) throw new Error("thread.ts is a sandbox thread's entry, not a module to import")

const engines = makeEngines()
const started: Started = { _tag: "Started" }

port.on("message", (job: Job) => {
  void runJob(engines, job, () => port.postMessage(started))
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
