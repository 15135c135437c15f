/**
 * One sandbox call on a loaded engine, start to end: a fresh QuickJS runtime and context, the
 * bootstrap and host functions, the globals, the untrusted code under its deadline and the hard
 * stop, and the result read back as JSON text. The state of the call is one value ({@link Call});
 * each step is a function of it.
 *
 * Limits, as enforced here:
 * - **Time**: the call's budget (`timeoutMs`) starts when the job arrives, once the engine is
 *   loaded; loading the globals spends from it, and the code gets what is left. An interrupt
 *   handler stops the code at its deadline; the watchdog (`watchdog.ts`) stops it by force
 *   `HARD_STOP_GRACE_MS` later if the handler was not polled in time.
 * - **Memory**: the engine's WebAssembly memory is fixed (`engine.ts`). A reserve is held while
 *   untrusted code runs, and the heap is probed afterwards: a step that left it exhausted counts
 *   as out of memory, and its results are not read (the glue may have failed to allocate them).
 * - **Stack**: `setMaxStackSize` turns ordinary deep recursion into a QuickJS `InternalError`; a
 *   host stack overflow inside a native path surfaces as a `RangeError` (see `failure.ts`).
 * - **Saves**: `maxSaves` names and `maxSaveBytes` bytes of JSON per call (`marshal.ts`).
 *
 * Whenever the engine ends in a state that cannot be trusted (out of memory, a forced stop, a host
 * stack overflow, a WebAssembly trap) it is discarded, not disposed, and the thread is retired.
 *
 * @internal
 */
import type { QuickJSContext, QuickJSHandle, QuickJSRuntime } from "quickjs-emscripten-core"
import { BOOTSTRAP } from "./bootstrap.js"
import type { Engine, WasmHeap } from "./engine.js"
import { type Explanation, explainHostException, explainThrown, outOfMemory, saveLimit, tooLarge } from "./failure.js"
import {
  DESCRIBE_BUDGET_MS,
  formatMiB,
  HARD_STOP_GRACE_MS,
  inputTimeoutMessage,
  MAX_STACK_BYTES,
  PROBE_BYTES,
  RESERVE_BYTES,
  type Settings,
  timeoutMessage
} from "./limits.js"
import {
  makeOutput,
  makeSaves,
  type Output,
  readThrown,
  type Saves,
  type Thrown,
  UNREADABLE,
  utf8Length
} from "./marshal.js"
import type { Job, RawResult } from "./protocol.js"
import { isWatchdogTimeout, underWatchdog } from "./watchdog.js"

const FILENAME = "agent.js"

/** How a call ended: its result, or why it failed (with the lines printed before). */
export type Outcome =
  | { readonly _tag: "Success"; readonly result: RawResult }
  | { readonly _tag: "Failure"; readonly explanation: Explanation; readonly output: ReadonlyArray<string> }

/** The handles a call owns, disposed together (last first) when it ends. */
class Handles {
  private readonly owned: Array<{ readonly alive: boolean; dispose(): void }> = []
  manage<H extends { readonly alive: boolean; dispose(): void }>(handle: H): H {
    this.owned.push(handle)
    return handle
  }
  dispose(): void {
    for (let i = this.owned.length - 1; i >= 0; i--) {
      const handle = this.owned[i]!
      if (handle.alive) handle.dispose()
    }
    this.owned.length = 0
  }
}

/** The state of one call. */
interface Call {
  readonly engine: Engine
  readonly code: string
  readonly globalsJson: string
  readonly settings: Settings
  /** What is left of `settings.timeoutMs` when the job arrived. */
  readonly budgetMs: number
  readonly output: Output
  readonly saves: Saves
  readonly handles: Handles
  answer: { readonly json: string | undefined } | undefined
  /** When the interrupt handler stops the code (`performance.now()` time). */
  deadline: number
  interrupted: boolean
  /** The engine's state cannot be trusted: it is discarded, not disposed. */
  poisoned: boolean
  runtime: QuickJSRuntime | undefined
}

/** The bootstrap's helpers, as handles in the call's context. */
interface Helpers {
  readonly vm: QuickJSContext
  readonly setup: QuickJSHandle
  readonly toJson: QuickJSHandle
  readonly describe: QuickJSHandle
}

type Guarded<A> = { readonly exhausted: true } | { readonly exhausted: false; readonly value: A }

// -----------------------------------------------------------------------------
// heap
// -----------------------------------------------------------------------------

/** Whether the engine's heap cannot give out even a small block. */
const heapLow = (heap: WasmHeap | undefined): boolean => {
  if (heap === undefined) return false
  const probe = heap._malloc(PROBE_BYTES)
  if (probe !== 0) heap._free(probe)
  return probe === 0
}

/**
 * Runs a step of untrusted code with the reserve held, then releases it. If the step left the
 * heap exhausted, the glue may have failed to allocate the handles it returned, so the step's
 * result is not returned at all (and the engine must be discarded).
 */
const guarded = <A>(heap: WasmHeap | undefined, step: () => A): Guarded<A> => {
  const reserve = heap?._malloc(RESERVE_BYTES)
  if (reserve === 0) return { exhausted: true }
  try {
    const value = step()
    return heapLow(heap) ? { exhausted: true } : { exhausted: false, value }
  } finally {
    if (reserve !== undefined) heap?._free(reserve)
  }
}

// -----------------------------------------------------------------------------
// steps
// -----------------------------------------------------------------------------

const failed = (call: Call, explanation: Explanation): Outcome => {
  if (explanation.poisoned === true) call.poisoned = true
  return { _tag: "Failure", explanation, output: call.output.lines.slice() }
}
const timedOut = (call: Call): Outcome =>
  failed(call, { reason: "Timeout", message: timeoutMessage(call.settings.timeoutMs) })
const exhausted = (call: Call, what: string): Outcome => {
  call.poisoned = true
  return call.interrupted ? timedOut(call) : failed(call, outOfMemory(what, call.settings.memoryBytes))
}

/** A new runtime with the call's limits, and a context in it. */
const openContext = (call: Call): QuickJSContext => {
  const runtime = call.engine.module.newRuntime()
  call.runtime = runtime
  runtime.setMemoryLimit(call.settings.memoryBytes)
  runtime.setMaxStackSize(MAX_STACK_BYTES)
  runtime.setInterruptHandler(() => {
    if (performance.now() <= call.deadline) return false
    call.interrupted = true
    return true
  })
  return runtime.newContext()
}

/** The host functions (`print`, `save`, `answer`) and the bootstrap that wraps them. */
const installHelpers = (call: Call, vm: QuickJSContext): Helpers => {
  const { handles, settings } = call
  const unwrap = (result: ReturnType<QuickJSContext["evalCode"]>): QuickJSHandle => {
    if (result.error === undefined) return handles.manage(result.value)
    const thrown = handles.manage(result.error)
    throw new Error(`Sandbox bootstrap failed: ${JSON.stringify(vm.dump(thrown))}`)
  }
  const hostPrint = vm.newFunction("print", (line) =>
    vm.typeof(line) === "string" && call.output.push(vm.getString(line)) ? vm.true : vm.false
  )
  const hostSave = vm.newFunction("save", (name, json) => {
    if (vm.typeof(name) !== "string" || vm.typeof(json) !== "string") return
    return vm.newNumber(call.saves.add(vm.getString(name), vm.getString(json)))
  })
  const hostAnswer = vm.newFunction("answer", (json) => {
    call.answer = { json: vm.typeof(json) === "string" ? vm.getString(json) : undefined }
  })
  const boot = unwrap(vm.evalCode(BOOTSTRAP, "sandbox-bootstrap.js", { type: "global", strict: true }))
  const args = [
    handles.manage(hostPrint),
    handles.manage(hostSave),
    handles.manage(hostAnswer),
    handles.manage(vm.newNumber(settings.maxOutputBytes)),
    handles.manage(vm.newNumber(settings.maxSaves)),
    handles.manage(vm.newNumber(settings.maxSaveBytes))
  ]
  const helpers = unwrap(vm.callFunction(boot, vm.undefined, ...args))
  return {
    vm,
    setup: handles.manage(vm.getProp(helpers, 0)),
    toJson: handles.manage(vm.getProp(helpers, 1)),
    describe: handles.manage(vm.getProp(helpers, 2))
  }
}

/** Reads a thrown value's name, message and stack, within a small time budget of its own. */
const describe = (call: Call, helpers: Helpers, thrown: QuickJSHandle): Thrown => {
  const { vm } = helpers
  call.deadline = performance.now() + DESCRIBE_BUDGET_MS
  const result = vm.callFunction(helpers.describe, vm.undefined, thrown)
  if (result.error !== undefined) {
    call.handles.manage(result.error)
    return UNREADABLE
  }
  const text = call.handles.manage(result.value)
  return vm.typeof(text) === "string" ? readThrown(vm.getString(text)) : UNREADABLE
}

/** Defines the globals (host data, so no deadline); a failure when they do not fit. */
const loadGlobals = (call: Call, helpers: Helpers): Outcome | undefined => {
  const { vm } = helpers
  const tooMuch = () =>
    failed(
      call,
      outOfMemory(
        `The input data (${formatMiB(utf8Length(call.globalsJson))} as JSON) did not fit in memory`,
        call.settings.memoryBytes
      )
    )
  const dataText = call.globalsJson === "{}" ? undefined : vm.newString(call.globalsJson)
  const loaded = guarded(call.engine.heap, () => vm.callFunction(helpers.setup, vm.undefined, dataText ?? vm.undefined))
  dataText?.dispose()
  if (loaded.exhausted) return tooMuch()
  if (loaded.value.error !== undefined) {
    const thrown = describe(call, helpers, call.handles.manage(loaded.value.error))
    if (thrown.message === "out of memory") return tooMuch()
    throw new Error(`Sandbox setup failed: ${thrown.name}: ${thrown.message}`)
  }
  call.handles.manage(loaded.value.value)
  return undefined
}

/** A value the code threw, as the model reads it; `phase` says which step threw it. */
const failure = (call: Call, helpers: Helpers, handle: QuickJSHandle, phase: "eval" | "result"): Outcome => {
  if (call.interrupted) return timedOut(call)
  const thrown = describe(call, helpers, handle)
  return failed(
    call,
    explainThrown(thrown, phase, call.code, call.settings.memoryBytes, () => heapLow(call.engine.heap))
  )
}

/** Runs the untrusted code, then its queued jobs, and reads its result back as JSON text. */
const evaluate = (call: Call, helpers: Helpers): Outcome => {
  const { vm } = helpers
  const { handles } = call
  const evaluated = guarded(call.engine.heap, () => vm.evalCode(call.code, FILENAME, { type: "global" }))
  if (evaluated.exhausted) return exhausted(call, "The code ran out of memory")
  if (evaluated.value.error !== undefined) return failure(call, helpers, handles.manage(evaluated.value.error), "eval")
  const completion = handles.manage(evaluated.value.value)

  // Run queued promise jobs, so an async IIFE (or any promise chain) can finish.
  const jobs = guarded(call.engine.heap, () => vm.runtime.executePendingJobs())
  if (jobs.exhausted) return exhausted(call, "The code ran out of memory")
  if (jobs.value.error !== undefined) return failure(call, helpers, handles.manage(jobs.value.error), "eval")
  if (call.interrupted) return timedOut(call)

  let resultHandle = completion
  const state = vm.getPromiseState(completion)
  if (state.type === "pending") {
    return failed(call, {
      reason: "InvalidResult",
      message:
        "The last expression is a Promise that never settled (the sandbox has no timers or I/O, so nothing can resolve it later). " +
        "Compute the value synchronously, or make the last expression an async IIFE that only awaits promises that settle."
    })
  }
  if (state.type === "rejected") return failure(call, helpers, handles.manage(state.error), "eval")
  if (state.notAPromise !== true) resultHandle = handles.manage(state.value)

  const dumped = guarded(call.engine.heap, () => vm.callFunction(helpers.toJson, vm.undefined, resultHandle))
  if (dumped.exhausted) return exhausted(call, "Converting the result to JSON ran out of memory")
  if (dumped.value.error !== undefined) return failure(call, helpers, handles.manage(dumped.value.error), "result")
  const json = handles.manage(dumped.value.value)
  if (call.interrupted) return timedOut(call)
  return {
    _tag: "Success",
    result: {
      valueJson: vm.typeof(json) === "string" ? vm.getString(json) : undefined,
      output: call.output.lines,
      saved: Array.from(call.saves.entries),
      answer: call.answer
    }
  }
}

/**
 * A save past a bound fails the call even when the code caught the error `save` threw, or failed
 * in some other way afterwards; only a timeout or an exhausted heap say more.
 */
const withSaveLimit = (call: Call, outcome: Outcome): Outcome => {
  const bound = call.saves.exceeded()
  if (bound === undefined) return outcome
  if (
    outcome._tag === "Failure" &&
    (outcome.explanation.reason === "Timeout" || outcome.explanation.reason === "OutOfMemory")
  ) {
    return outcome
  }
  return failed(call, saveLimit(bound, call.settings.maxSaves, call.settings.maxSaveBytes))
}

/**
 * Everything that touches the engine, in order; a host exception out of it taints the engine.
 * `started` is called just before the untrusted code starts.
 */
const session = (call: Call, started: () => void): Outcome => {
  const setupStarted = performance.now()
  const vm = call.handles.manage(openContext(call))
  const helpers = installHelpers(call, vm)
  const notLoaded = loadGlobals(call, helpers)
  if (notLoaded !== undefined) return notLoaded
  const left = call.budgetMs - (performance.now() - setupStarted)
  if (left <= 0) {
    const used = call.settings.timeoutMs - left
    return failed(call, { reason: "Timeout", message: inputTimeoutMessage(call.settings.timeoutMs, used) })
  }
  call.deadline = performance.now() + left
  started()
  return underWatchdog(left + HARD_STOP_GRACE_MS, () => evaluate(call, helpers))
}

/**
 * Runs `code` with `globalsJson` in scope on `engine`. `discard` is called when the engine cannot
 * be trusted any more; `started` just before the untrusted code starts (after the engine and the
 * globals are ready). Throws only on a bug of ours (a defect).
 */
export const execute = (engine: Engine, job: Job, discard: () => void, started: () => void): Outcome => {
  const call: Call = {
    engine,
    code: job.code,
    globalsJson: job.globalsJson,
    settings: job.settings,
    budgetMs: job.budgetMs,
    output: makeOutput(job.settings.maxOutputBytes),
    saves: makeSaves(job.settings.maxSaves, job.settings.maxSaveBytes),
    handles: new Handles(),
    answer: undefined,
    deadline: Number.POSITIVE_INFINITY,
    interrupted: false,
    poisoned: false,
    runtime: undefined
  }
  // Size checks before anything touches the engine's heap: the glue cannot report a failed allocation.
  const large = tooLarge(utf8Length(job.code), utf8Length(job.globalsJson), job.settings.memoryBytes)
  if (large !== undefined) return failed(call, large)

  let outcome: Outcome
  try {
    outcome = withSaveLimit(call, session(call, started))
  } catch (cause) {
    // Any host exception thrown through the engine leaves its WebAssembly state unknown.
    discard()
    if (isWatchdogTimeout(cause)) return timedOut(call)
    const explanation = explainHostException(cause)
    if (explanation === undefined) throw cause
    return failed(call, explanation)
  }
  if (call.poisoned) {
    // Not disposed: freeing a runtime in this state can itself fail; the instance is dropped whole.
    discard()
    return outcome
  }
  // This build asserts that every handle was released when the runtime is freed, so a leak
  // surfaces here as an abort (a defect) instead of going unnoticed.
  try {
    call.handles.dispose()
    call.runtime?.dispose()
  } catch (error) {
    discard()
    throw error
  }
  return outcome
}
