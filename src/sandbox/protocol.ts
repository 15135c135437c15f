/**
 * The messages between the pool (host thread) and a sandbox thread: one `Job` in, a `Started`
 * when the untrusted code starts, then one final `Reply`. Values come back as JSON text, which
 * the structured clone copies as flat strings; the host parses them (and counts that time).
 *
 * @internal
 */
import type { Settings } from "./limits.js"
import type { Reason } from "./SandboxError.js"

/** A job for a sandbox thread. */
export interface Job {
  readonly code: string
  readonly globalsJson: string
  readonly settings: Settings
  /** What is left of `settings.timeoutMs` when the job is posted, in milliseconds. */
  readonly budgetMs: number
}

/** What a successful call produced, as the thread sends it: every value as JSON text. */
export interface RawResult {
  /** The last expression as JSON; `undefined` when it has no JSON form. */
  readonly valueJson: string | undefined
  readonly output: ReadonlyArray<string>
  /** `[name, json]` in first-save order. */
  readonly saved: ReadonlyArray<readonly [string, string]>
  /** `answer(value)`'s value as JSON (`json` undefined for `answer(undefined)`), or `undefined` if never called. */
  readonly answer: { readonly json: string | undefined } | undefined
}

/** Sent before the final reply, when the untrusted code starts: from then on the hard stop runs. */
export interface Started {
  readonly _tag: "Started"
}

/** The final reply of a call that succeeded. */
export interface Success {
  readonly _tag: "Success"
  readonly result: RawResult
  /** The thread's time on the job in milliseconds, loading an engine excluded. */
  readonly ranMs: number
  /** The thread's engines can no longer be trusted or were evicted: terminate it after this reply. */
  readonly retire: boolean
}

/** The final reply of a call whose code failed (a `SandboxError` on the caller's side). */
export interface Failure {
  readonly _tag: "Failure"
  readonly reason: Reason
  readonly message: string
  readonly output: ReadonlyArray<string>
  readonly retire: boolean
}

/** A bug of ours inside the thread; an `Error` keeps its name, message and stack. */
export interface Defect {
  readonly _tag: "Defect"
  readonly name: string
  readonly message: string
  readonly stack: string | undefined
}

/** What a sandbox thread sends for a job. */
export type Reply = Started | Success | Failure | Defect

/** A thread's last message for a job. */
export type Answer = Success | Failure | Defect

/** A defect as a thread sends it. */
export const defectOf = (error: unknown): Defect =>
  error instanceof Error
    ? { _tag: "Defect", name: error.name, message: error.message, stack: error.stack }
    : { _tag: "Defect", name: "Error", message: String(error), stack: undefined }

/** A thread's defect as an `Error` of the same name, message and stack. */
export const rebuild = (reply: Defect): Error => {
  const error = new Error(reply.message)
  error.name = reply.name
  if (reply.stack !== undefined) error.stack = reply.stack
  return error
}
