/**
 * One job on a sandbox thread: load the engine it needs, run it, and turn the outcome into the
 * thread's final reply. Used by the thread entry (`thread.ts`).
 *
 * @internal
 */
import type { Engines } from "./engine.js"
import { execute, type Outcome } from "./execute.js"
import type { Answer, Job } from "./protocol.js"

const answerOf = (engines: Engines, outcome: Outcome, ranMs: number): Answer =>
  outcome._tag === "Success"
    ? { _tag: "Success", result: outcome.result, ranMs, retire: engines.shouldRetire() }
    : {
        _tag: "Failure",
        reason: outcome.explanation.reason,
        message: outcome.explanation.message,
        output: outcome.output,
        retire: engines.shouldRetire()
      }

/**
 * Runs `job` on one of `engines` (loading it first if needed; that time is not the call's).
 * `started` is called just before the untrusted code starts. Rejects only on a bug of ours.
 */
export const runJob = async (engines: Engines, job: Job, started: () => void): Promise<Answer> => {
  const engine = await engines.load(job.settings.wasmBytes)
  const loaded = performance.now()
  const outcome = execute(engine, job, () => engines.discard(engine), started)
  return answerOf(engines, outcome, performance.now() - loaded)
}
