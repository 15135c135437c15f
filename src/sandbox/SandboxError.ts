/**
 * The one error of the sandbox: sandboxed code that failed, and why.
 *
 * @internal
 */
import { Schema } from "effect"

/**
 * The sandboxed code failed. `reason` says how, `message` says what happened and what to do next
 * (it is written for the model), and `output` holds the lines printed before the failure.
 *
 * - `SyntaxError`: the code does not parse.
 * - `RuntimeError`: the code threw (including escape attempts such as `require`, which do not exist).
 * - `Timeout`: the call ran past `timeoutMs`.
 * - `OutOfMemory`: the code, its input data or its result needed more memory than `memoryBytes`.
 * - `InvalidResult`: the last expression could not be converted to JSON, or is a Promise that never settles.
 * - `SaveLimit`: the code saved more handles (`maxSaves`) or more bytes (`maxSaveBytes`) than one
 *   call may; nothing it saved is kept.
 *
 * @example
 * ```ts
 * Sandbox.run("while (true) {}", {}, { timeoutMs: 100 }).pipe(
 *   Effect.catchTag("SandboxError", (error) => Effect.succeed(`${error.reason}: ${error.message}`))
 * )
 * ```
 */
export class SandboxError extends Schema.TaggedError<SandboxError>()("SandboxError", {
  reason: Schema.Literals(["SyntaxError", "RuntimeError", "Timeout", "OutOfMemory", "InvalidResult", "SaveLimit"]),
  message: Schema.String,
  output: Schema.Array(Schema.String)
}) {
  /** Always `false`: running the same code again gives the same outcome; the code must change. */
  get isRetryable(): boolean {
    return false
  }
}

/** The reasons a sandbox call can fail for. */
export type Reason = SandboxError["reason"]
