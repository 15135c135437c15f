/**
 * A sandbox thread: runs the jobs `Sandbox.run` posts, one at a time, on this worker thread's own
 * QuickJS engines, and posts back each one's `Reply`. Started by `sandbox.ts`; not imported
 * anywhere else.
 *
 * @internal
 */
import { parentPort } from "node:worker_threads"
import { Cause, Effect, Exit } from "effect"
import { defectOf, type Job, type Reply, runHere, SandboxError } from "./sandbox.js"

const port = parentPort
if (port === null) throw new Error("sandboxThread is a worker thread's entry, not a module to import")

const replyOf = (exit: Exit.Exit<unknown, SandboxError>): Reply => {
  if (Exit.isSuccess(exit)) return { _tag: "Success", result: exit.value as never }
  const error = Cause.squash(exit.cause)
  return error instanceof SandboxError
    ? { _tag: "Failure", reason: error.reason, message: error.message, output: [...error.output] }
    : defectOf(error)
}

const started: Reply = { _tag: "Started" }

port.on("message", (job: Job) => {
  void Effect.runPromiseExit(runHere(job.code, job.globalsJson, job.settings, () => port.postMessage(started))).then(
    (exit) => {
      const reply = replyOf(exit)
      try {
        port.postMessage(reply)
      } catch (error) {
        // a result the structured clone cannot carry (it is JSON-like, so this is a bug): a defect
        port.postMessage(defectOf(`the sandbox result could not be sent: ${String(error)}`))
      }
    }
  )
})
