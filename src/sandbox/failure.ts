/**
 * Why sandboxed code failed, in words for the model: each way a call can go wrong (a thrown
 * value, an exhausted heap, a host exception out of the engine, a save past a bound) becomes a
 * `reason` and a message that says what happened and what to do next.
 *
 * @internal
 */
import { wasmApi } from "./engine.js"
import { formatBytes, formatMiB } from "./limits.js"
import { type Thrown, trimStack } from "./marshal.js"
import type { Reason } from "./SandboxError.js"

/** What the model reads about a failure; `poisoned` when the engine's heap cannot be trusted any more. */
export interface Explanation {
  readonly reason: Reason
  readonly message: string
  readonly poisoned?: boolean
}

/** Names that exist in Node or browsers but deliberately not in the sandbox. */
const HOST_ONLY_NAME =
  /^'(require|process|fetch|module|exports|Buffer|global|setTimeout|setInterval|setImmediate|queueMicrotask|XMLHttpRequest|WebSocket|Deno|Bun|__dirname|__filename|performance|structuredClone|TextEncoder|TextDecoder|URL|atob|btoa)' is not defined$/
const SANDBOX_HINT =
  "The sandbox is plain JavaScript with no modules, file system, network, timers or process: use the provided global variables, console.log, save(name, value) and answer(value)."
const PARSE_ERROR_STACK = /^\s*at agent\.js:(\d+):(\d+)\s*$/

/** The engine ran out of memory while doing `what`. */
export const outOfMemory = (what: string, memoryBytes: number): Explanation => ({
  reason: "OutOfMemory",
  poisoned: true,
  message:
    `${what} (the sandbox allows about ${formatMiB(memoryBytes)}) and was stopped. ` +
    "Avoid building large intermediate arrays or strings: aggregate while iterating, and print, save or return only the summary you need."
})

/** The code or the globals are too large to even try; `undefined` when they fit. */
export const tooLarge = (codeBytes: number, globalsBytes: number, memoryBytes: number): Explanation | undefined => {
  if (codeBytes * 2 > memoryBytes) {
    return {
      reason: "OutOfMemory",
      message: `The code is ${formatMiB(codeBytes)} of source, too large for the sandbox (about ${formatMiB(
        memoryBytes
      )}). Pass data as global variables instead of writing it into the code.`
    }
  }
  if (globalsBytes * 3 > memoryBytes) {
    return {
      reason: "OutOfMemory",
      message: `The input data is ${formatMiB(globalsBytes)} as JSON; the sandbox needs about three times that and allows ${formatMiB(
        memoryBytes
      )}. Pass less data, or raise memoryBytes.`
    }
  }
  return undefined
}

/**
 * A value the code threw (read by the bootstrap's `describe`). `phase` says which step threw it:
 * running the code, or converting its last expression to JSON. `heapLow` probes the engine's heap.
 */
export const explainThrown = (
  thrown: Thrown,
  phase: "eval" | "result",
  code: string,
  memoryBytes: number,
  heapLow: () => boolean
): Explanation => {
  if (thrown.name === "InternalError" && thrown.message === "out of memory") {
    return outOfMemory(
      phase === "result" ? "Converting the result to JSON ran out of memory" : "The code ran out of memory",
      memoryBytes
    )
  }
  if (thrown.name === "InternalError" && thrown.message === "string too long") {
    return {
      reason: "OutOfMemory",
      message:
        "The code built a string longer than the engine allows (about 2^30 characters) and was stopped. " +
        "Avoid building huge strings: aggregate the data, and print or return only the summary you need."
    }
  }
  if (phase === "result") {
    return {
      reason: "InvalidResult",
      message:
        `The value of the last expression cannot be converted to JSON (${thrown.name || "Error"}: ${thrown.message}). ` +
        "End the code with plain data (objects, arrays, strings, numbers, booleans or null), or pass plain data to answer(value) or save(name, value)."
    }
  }
  const parse = thrown.name === "SyntaxError" ? PARSE_ERROR_STACK.exec(thrown.stack) : null
  if (parse !== null) {
    const awaitHint = /\bawait\b/.test(code)
      ? " Top-level await is not supported: wrap the code in (async () => { ... })() as the last expression, or drop the await (nothing in the sandbox is asynchronous)."
      : ""
    return {
      reason: "SyntaxError",
      message: `The code does not parse: SyntaxError: ${thrown.message} (line ${parse[1]}, column ${parse[2]}). Fix the syntax and run it again.${awaitHint}`
    }
  }
  if (thrown.name === "InternalError" && thrown.message === "stack overflow") {
    return {
      reason: "RuntimeError",
      message:
        `The code threw InternalError: stack overflow\n${trimStack(thrown.stack)}\n` +
        "It recursed too deeply; use an iterative algorithm or reduce the nesting depth."
    }
  }
  if (!thrown.isError) {
    // Out of memory while building the error itself makes QuickJS throw `null`.
    if (thrown.isNull && heapLow()) return outOfMemory("The code ran out of memory", memoryBytes)
    return { reason: "RuntimeError", message: `The code threw a non-Error value: ${thrown.message}` }
  }
  const hint =
    HOST_ONLY_NAME.test(thrown.message) || /^could not load module /.test(thrown.message) ? `\n${SANDBOX_HINT}` : ""
  const stack = trimStack(thrown.stack)
  return {
    reason: "RuntimeError",
    message: `The code threw ${thrown.name || "Error"}: ${thrown.message}${stack.length > 0 ? `\n${stack}` : ""}${hint}`
  }
}

/**
 * A host exception thrown through the engine (its WebAssembly state is unknown afterwards), as the
 * model reads it; `undefined` for one that is a bug of ours (a defect).
 */
export const explainHostException = (cause: unknown): Explanation | undefined => {
  if (cause instanceof RangeError && /call stack/i.test(cause.message)) {
    return {
      reason: "RuntimeError",
      message:
        `The code nested too deeply and exhausted the engine's stack (${String(cause)}); the sandbox was reset. ` +
        "Use an iterative algorithm, or reduce the nesting depth of the code and data."
    }
  }
  if (cause instanceof wasmApi().RuntimeError) {
    return {
      reason: "RuntimeError",
      message:
        `The JavaScript engine crashed while running the code (${String(cause)}); the sandbox was reset. ` +
        "Simplify the code or process less data at once."
    }
  }
  return undefined
}

/** A save past one of the call's bounds, even if the code caught the error `save` threw. */
export const saveLimit = (bound: "count" | "bytes", maxSaves: number, maxSaveBytes: number): Explanation => ({
  reason: "SaveLimit",
  message:
    bound === "count"
      ? `The code tried to save more than ${maxSaves} handle${maxSaves === 1 ? "" : "s"}, the most one call may save (maxSaves); nothing it saved was kept. ` +
        "Save fewer, larger values: collect the items in one array or object and save that once."
      : `The values the code tried to save add up to more than ${formatBytes(maxSaveBytes)} of JSON, the most one call may save (maxSaveBytes); nothing it saved was kept. ` +
        "Save a summary of the data instead of the data."
})
