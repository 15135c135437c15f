/**
 * The hard stop: a backstop that terminates untrusted code by force when the engine's own
 * interrupt handler cannot stop it in time.
 *
 * QuickJS polls its interrupt handler only every few thousand operations, so a loop whose body is
 * one long native call (say, sorting a large array without a comparator) can run far past the
 * deadline. As a backstop, the steps that run untrusted code are called from a `node:vm` script
 * with a `timeout`: Node's watchdog thread then terminates the JavaScript and WebAssembly running
 * on this thread, and the call throws `ERR_SCRIPT_EXECUTION_TIMEOUT`. Only the fixed script
 * `step()` runs in that vm context; the untrusted code never does. Termination skips `finally`
 * blocks inside `step`, so the caller must discard the engine afterwards.
 *
 * @internal
 */
import { createContext, Script } from "node:vm"
import { Predicate } from "effect"

/** Holds the step the watchdog script calls; only ever set for the duration of one call. */
const holder: { step: (() => unknown) | undefined } = { step: undefined }
let watchdog: { readonly script: Script; readonly context: object } | undefined

/** Runs `step`, and stops it by force if it is still running after `timeoutMs`. */
export const underWatchdog = <A>(timeoutMs: number, step: () => A): A => {
  watchdog ??= {
    script: new Script("step()", { filename: "sandbox-watchdog.js" }),
    context: createContext(holder)
  }
  holder.step = step
  try {
    return watchdog.script.runInContext(watchdog.context, { timeout: Math.max(1, Math.ceil(timeoutMs)) }) as A
  } finally {
    holder.step = undefined
  }
}

/** Whether `error` is the watchdog stopping a step. */
export const isWatchdogTimeout = (error: unknown): boolean =>
  Predicate.hasProperty(error, "code") && error.code === "ERR_SCRIPT_EXECUTION_TIMEOUT"
