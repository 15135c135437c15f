/**
 * A JavaScript sandbox for model-written code, running on QuickJS compiled to WebAssembly.
 *
 * The agent's `javascript` tool runs code here. The engine is a separate interpreter with its own
 * realm: there is no `require`, `import()`, `process`, `fetch`, file system, network or timers, and
 * changing `Object.prototype` inside cannot touch the host. The only host functions the code can
 * reach are `console.*`, `save(name, value)` and `answer(value)`.
 *
 * Every call gets a fresh QuickJS runtime and context, so no state survives between calls; data
 * comes in as `globals` (JSON-like values placed in scope as global variables) and goes out as the
 * value of the last expression, printed lines, saved values and the answer.
 *
 * Limits and how they are enforced:
 * - **Time**: an interrupt handler stops the code once `timeoutMs` has passed. QuickJS polls it
 *   only every few thousand operations, so a loop whose body is one long native call (sorting a
 *   large array without a comparator) could overrun the deadline by hours; as a backstop the code
 *   runs under a `node:vm` timeout of `timeoutMs + 500 ms`, whose watchdog thread terminates it by
 *   force (see `underWatchdog`; untrusted code never runs in node:vm itself).
 * - **Memory**: each engine instance runs in a fixed-size `WebAssembly.Memory`
 *   (`memoryBytes` plus a fixed allowance for the engine itself), so the heap cannot grow past the
 *   cap. `runtime.setMemoryLimit` is also set, but on its own it does not bound the total in this
 *   build (QuickJS cannot measure block sizes under Emscripten, see
 *   https://github.com/justjake/quickjs-emscripten/issues/271).
 * - **Stack**: `setMaxStackSize(256 KiB)` turns ordinary deep recursion into a QuickJS
 *   `InternalError`. A few native paths (the parser, `JSON.parse`/`stringify` of deeply nested data)
 *   can still exhaust the host's stack first; that surfaces as a `RuntimeError`.
 *
 * Whenever the engine ends in a state that cannot be trusted (out of memory, a forced stop, a host
 * stack overflow, a WebAssembly trap) its WebAssembly instance is discarded instead of disposed,
 * and the next call loads a fresh one; the host process is never affected.
 *
 * All of this runs on a worker thread (`sandboxThread.ts`, see "threads" below), not on the
 * caller's: the engine runs synchronously, and on the caller's thread one call held every other
 * fiber (every other session's stream) until it finished.
 *
 * @internal
 */

import { readFileSync } from "node:fs"
import { createRequire } from "node:module"
import { availableParallelism } from "node:os"
import { pathToFileURL } from "node:url"
import { createContext, Script } from "node:vm"
import { Worker } from "node:worker_threads"
import * as releaseSyncModule from "@jitl/quickjs-wasmfile-release-sync"
import { Effect, Option, Predicate, Schema, Semaphore } from "effect"
import {
  newQuickJSWASMModuleFromVariant,
  newVariant,
  type QuickJSContext,
  type QuickJSHandle,
  type QuickJSRuntime,
  type QuickJSSyncVariant,
  type QuickJSWASMModule,
  Scope
} from "quickjs-emscripten-core"

// -----------------------------------------------------------------------------
// models
// -----------------------------------------------------------------------------

/**
 * Limits for one sandbox call. Every field is optional; the defaults suit the agent's tool.
 *
 * @example
 * ```ts
 * const options: SandboxOptions = { timeoutMs: 500, memoryBytes: 16 * 1024 * 1024 }
 * ```
 */
export interface SandboxOptions {
  /** Wall-clock budget for the code, in milliseconds. Default 2000. */
  readonly timeoutMs?: number | undefined
  /** Heap available to the code, in bytes (rounded up to whole MiB, at least 1 MiB). Default 64 MiB. */
  readonly memoryBytes?: number | undefined
  /** Cap on the total printed output, in UTF-8 bytes. Default 64 KiB. */
  readonly maxOutputBytes?: number | undefined
}

/**
 * What a successful sandbox call produced. All values are plain JSON-like host data.
 */
export interface SandboxResult {
  /** The value of the last expression, converted to JSON-like data; `undefined` if there is none. */
  readonly value: unknown
  /** Printed lines, one per `console.*` call, capped at `maxOutputBytes`. */
  readonly output: ReadonlyArray<string>
  /** Values recorded with `save(name, value)`, in first-save order; a later save of a name replaces it. */
  readonly saved: ReadonlyArray<{ readonly name: string; readonly value: unknown }>
  /** The value recorded with `answer(value)` (the last call wins), or `undefined` if never called. */
  readonly answer: { readonly value: unknown } | undefined
}

// -----------------------------------------------------------------------------
// errors
// -----------------------------------------------------------------------------

/**
 * The sandboxed code failed. `reason` says how, `message` says what happened and what to do next
 * (it is written for the model), and `output` holds the lines printed before the failure.
 *
 * - `SyntaxError`: the code does not parse.
 * - `RuntimeError`: the code threw (including escape attempts such as `require`, which do not exist).
 * - `Timeout`: the code ran past `timeoutMs`.
 * - `OutOfMemory`: the code, its input data or its result needed more memory than `memoryBytes`.
 * - `InvalidResult`: the last expression could not be converted to JSON, or is a Promise that never settles.
 *
 * @example
 * ```ts
 * Sandbox.run("while (true) {}", {}, { timeoutMs: 100 }).pipe(
 *   Effect.catchTag("SandboxError", (error) => Effect.succeed(`${error.reason}: ${error.message}`))
 * )
 * ```
 */
export class SandboxError extends Schema.TaggedError<SandboxError>()("SandboxError", {
  reason: Schema.Literals(["SyntaxError", "RuntimeError", "Timeout", "OutOfMemory", "InvalidResult"]),
  message: Schema.String,
  output: Schema.Array(Schema.String)
}) {
  /** Always `false`: running the same code again gives the same outcome; the code must change. */
  get isRetryable(): boolean {
    return false
  }
}

// -----------------------------------------------------------------------------
// constants
// -----------------------------------------------------------------------------

const KiB = 1024
const MiB = 1024 * KiB
const DEFAULT_TIMEOUT_MS = 2_000
/** About 23 days: with every grace added, still within Node's timers (2^31 - 1 ms). */
const MAX_TIMEOUT_MS = 2_000_000_000
const DEFAULT_MEMORY_BYTES = 64 * MiB
const DEFAULT_MAX_OUTPUT_BYTES = 64 * KiB
const MIN_MEMORY_BYTES = 1 * MiB
const MAX_MEMORY_BYTES = 1024 * MiB
/**
 * QuickJS stack limit. Measured on Node 20 with the default host stack: plain JS recursion
 * overflows the host stack at about 390 KiB of QuickJS stack, so 256 KiB (about 1,300 frames)
 * leaves a margin; 1 MiB would run into the host's stack limit first.
 */
const MAX_STACK_BYTES = 256 * KiB
/**
 * WebAssembly memory on top of `memoryBytes`: the build's 5 MiB C stack and static data, the
 * QuickJS runtime itself, and the reserve below.
 */
const ENGINE_OVERHEAD_BYTES = 8 * MiB
/** The prebuilt module imports a memory of at least 16 MiB (its `INITIAL_MEMORY`). */
const MIN_WASM_BYTES = 16 * MiB
const WASM_PAGE_BYTES = 64 * KiB
/** Held while untrusted code runs, freed afterwards, so reading the outcome never meets a full heap. */
const RESERVE_BYTES = 256 * KiB
/** If a block this big cannot be allocated after the code ran, the heap counts as exhausted. */
const PROBE_BYTES = 64 * KiB
/**
 * How long past `timeoutMs` the hard stop waits before terminating the code by force; normally the
 * interrupt handler has stopped it long before.
 */
const HARD_STOP_GRACE_MS = 500
/** Budget for reading a thrown value (its `name`/`message`/`stack` may be getters). */
const DESCRIBE_BUDGET_MS = 100
/** Distinct memory sizes kept loaded at once; each is one WebAssembly instance. */
const MAX_ENGINES = 4
const FILENAME = "agent.js"
const timeoutMessage = (timeoutMs: number): string =>
  `The code ran longer than ${timeoutMs} ms and was stopped. ` +
  "Do less work per call: avoid unbounded or nested loops over large data, aggregate in a single pass, and print or return only summaries."
const TRUNCATED_MARKER = "…(truncated)"

// -----------------------------------------------------------------------------
// engine loading
// -----------------------------------------------------------------------------

/** The Emscripten heap functions, used to hold the reserve and probe for exhaustion. */
interface WasmHeap {
  readonly _malloc: (size: number) => number
  readonly _free: (pointer: number) => void
}

interface Engine {
  readonly module: QuickJSWASMModule
  readonly heap: WasmHeap | undefined
  readonly wasmBytes: number
  readonly promise: Promise<Engine>
}

/**
 * Loaded engines by WebAssembly memory size: loaded once on first use and reused by every call,
 * until evicted (more than `MAX_ENGINES` sizes) or discarded after a failure that taints it.
 */
const engines = new Map<number, Promise<Engine>>()

/**
 * The parts of the global `WebAssembly` object used here, typed locally so the module compiles
 * without the DOM lib (`@types/node` 22 does not declare `WebAssembly`).
 */
interface WasmApi {
  readonly Memory: new (descriptor: { readonly initial: number; readonly maximum: number }) => object
  readonly RuntimeError: abstract new (...args: ReadonlyArray<never>) => Error
}
const wasmApi = (): WasmApi => (globalThis as unknown as { readonly WebAssembly: WasmApi }).WebAssembly

/**
 * The release-sync variant object. Its package types it as CommonJS, so depending on the module
 * resolution the default export arrives as the variant or wrapped in `{ default }`; unwrap either.
 */
const releaseSyncVariant = (): QuickJSSyncVariant => {
  let candidate: unknown = releaseSyncModule
  for (let depth = 0; depth < 3; depth++) {
    if (Predicate.hasProperty(candidate, "type") && candidate.type === "sync") return candidate as QuickJSSyncVariant
    candidate = Predicate.hasProperty(candidate, "default") ? candidate.default : undefined
  }
  throw new Error("@jitl/quickjs-wasmfile-release-sync does not export a QuickJS sync variant")
}

type WasmMemoryOption = NonNullable<Parameters<typeof newVariant>[1]["wasmMemory"]>

const readHeap = (module: QuickJSWASMModule): WasmHeap | undefined => {
  // `module` is a protected field of QuickJSWASMModule holding the Emscripten module.
  const emscripten = (module as unknown as { readonly module?: Partial<WasmHeap> }).module
  return typeof emscripten?._malloc === "function" && typeof emscripten._free === "function"
    ? { _malloc: emscripten._malloc.bind(emscripten), _free: emscripten._free.bind(emscripten) }
    : undefined
}

const createEngine = (wasmBytes: number): Promise<Engine> => {
  const pages = wasmBytes / WASM_PAGE_BYTES
  // A fixed-size memory: the engine's heap cannot grow past it, whatever the code allocates.
  const wasmMemory = new (wasmApi().Memory)({ initial: pages, maximum: pages }) as WasmMemoryOption
  const promise: Promise<Engine> = Promise.resolve()
    .then(() => newQuickJSWASMModuleFromVariant(newVariant(releaseSyncVariant(), { wasmMemory })))
    .then((module) => ({ module, heap: readHeap(module), wasmBytes, promise }))
  // A failed load is not cached: the next call tries again.
  promise.catch(() => {
    if (engines.get(wasmBytes) === promise) engines.delete(wasmBytes)
  })
  return promise
}

const loadEngine = (wasmBytes: number): Effect.Effect<Engine> =>
  Effect.promise(() => {
    const cached = engines.get(wasmBytes)
    if (cached !== undefined) return cached
    if (engines.size >= MAX_ENGINES) {
      const oldest = engines.keys().next()
      if (oldest.done !== true) engines.delete(oldest.value)
    }
    const promise = createEngine(wasmBytes)
    engines.set(wasmBytes, promise)
    return promise
  })

/** Forget an engine whose WebAssembly state can no longer be trusted; the garbage collector frees it. */
const discardEngine = (engine: Engine): void => {
  if (engines.get(engine.wasmBytes) === engine.promise) engines.delete(engine.wasmBytes)
}

// -----------------------------------------------------------------------------
// code that runs inside the sandbox
// -----------------------------------------------------------------------------

/**
 * Evaluated first in every context. It captures the built-ins it needs before untrusted code can
 * replace them, keeps the host functions in its closure (they are never globals), and returns the
 * helpers the host calls: `[setup, toJson, describe]`.
 */
const BOOTSTRAP = String.raw`(function (hostPrint, hostSave, hostAnswer, maxLineChars) {
  "use strict";
  var G = globalThis;
  var stringify = JSON.stringify, parse = JSON.parse, toStr = String, toNumber = Number;
  var defineProperty = Object.defineProperty, keys = Object.keys;
  var fromEntries = Object.fromEntries, arrayFrom = Array.from;
  var MapCtor = Map, SetCtor = Set, ErrorCtor = Error, TypeErrorCtor = TypeError;
  var MAX_SAFE = BigInt("9007199254740991"), MIN_SAFE = -MAX_SAFE;
  var IDENTIFIER = /^[A-Za-z_$][A-Za-z0-9_$]*$/;
  var outputOpen = true;

  function replacer(key, value) {
    if (typeof value === "bigint") return value >= MIN_SAFE && value <= MAX_SAFE ? toNumber(value) : toStr(value);
    if (typeof value === "object" && value !== null) {
      if (value instanceof MapCtor) return fromEntries(value);
      if (value instanceof SetCtor) return arrayFrom(value);
    }
    return value;
  }
  function toJson(value) { return stringify(value, replacer); }
  function errorText(error) {
    var text = toStr(error.name) + ": " + toStr(error.message);
    var stack = error.stack;
    return typeof stack === "string" && stack.length > 0 ? text + "\n" + stack.replace(/\n+$/, "") : text;
  }
  function format(value) {
    switch (typeof value) {
      case "string": return value;
      case "undefined": return "undefined";
      case "function": return "[Function: " + (value.name || "(anonymous)") + "]";
      case "bigint": return toStr(value) + "n";
      case "number": case "boolean": case "symbol": return toStr(value);
    }
    if (value === null) return "null";
    try {
      if (value instanceof ErrorCtor) return errorText(value);
      var json = toJson(value);
      return json === undefined ? toStr(value) : json;
    } catch (error) {
      try { return "[unprintable: " + toStr(error && error.message) + "]"; } catch (_) { return "[unprintable]"; }
    }
  }
  function print(args) {
    if (!outputOpen) return;
    var line = "";
    for (var i = 0; i < args.length; i++) {
      if (i > 0) line += " ";
      line += format(args[i]);
      if (line.length > maxLineChars) { line = line.slice(0, maxLineChars); break; }
    }
    outputOpen = hostPrint(line) === true;
  }
  function log() { print(arguments); }
  var consoleObject = { log: log, info: log, warn: log, error: log, debug: log, dir: log, table: log };

  function save(name, value) {
    if (typeof name !== "string" || !IDENTIFIER.test(name)) {
      throw new TypeErrorCtor("save(name, value): name must be a valid JavaScript identifier (letters, digits, _ or $, not starting with a digit), got " + format(name));
    }
    var json;
    try { json = toJson(value); } catch (error) {
      throw new TypeErrorCtor("save(name, value): value cannot be converted to JSON: " + toStr(error && error.message));
    }
    if (json === undefined) {
      throw new TypeErrorCtor("save(name, value): value must be JSON-like data (object, array, string, number, boolean or null), got " + typeof value);
    }
    hostSave(name, json);
    return name;
  }
  function answer(value) {
    var json;
    try { json = toJson(value); } catch (error) {
      throw new TypeErrorCtor("answer(value): value cannot be converted to JSON: " + toStr(error && error.message));
    }
    hostAnswer(json);
  }

  function define(name, value, enumerable) {
    defineProperty(G, name, { value: value, writable: true, configurable: true, enumerable: enumerable });
  }
  function setup(json) {
    if (typeof json === "string") {
      var data = parse(json), names = keys(data);
      for (var i = 0; i < names.length; i++) define(names[i], data[names[i]], true);
    }
    define("console", consoleObject, false);
    define("save", save, false);
    define("answer", answer, false);
  }
  function describe(thrown) {
    try {
      if (typeof thrown === "object" && thrown !== null && (thrown instanceof ErrorCtor || "message" in thrown)) {
        var stack = thrown.stack;
        return stringify({ name: toStr(thrown.name), message: toStr(thrown.message), stack: typeof stack === "string" ? stack : "", isError: true, isNull: false });
      }
      return stringify({ name: "", message: format(thrown), stack: "", isError: false, isNull: thrown === null });
    } catch (_) {
      return stringify({ name: "", message: "(a thrown value that could not be read)", stack: "", isError: false, isNull: false });
    }
  }
  return [setup, toJson, describe];
})`

// -----------------------------------------------------------------------------
// host-side helpers
// -----------------------------------------------------------------------------

/** UTF-8 length of a string, without allocating. */
const utf8Length = (text: string): number => {
  let bytes = 0
  for (let i = 0; i < text.length; i++) {
    const unit = text.charCodeAt(i)
    if (unit < 0x80) bytes += 1
    else if (unit < 0x800) bytes += 2
    else if (unit >= 0xd800 && unit <= 0xdbff && i + 1 < text.length) {
      const next = text.charCodeAt(i + 1)
      if (next >= 0xdc00 && next <= 0xdfff) {
        bytes += 4
        i++
      } else bytes += 3
    } else bytes += 3
  }
  return bytes
}

/** The longest prefix of `text` that fits in `budget` UTF-8 bytes, never splitting a surrogate pair. */
const truncateUtf8 = (text: string, budget: number): string => {
  let bytes = 0
  let end = 0
  while (end < text.length) {
    const unit = text.charCodeAt(end)
    const pair =
      unit >= 0xd800 &&
      unit <= 0xdbff &&
      end + 1 < text.length &&
      text.charCodeAt(end + 1) >= 0xdc00 &&
      text.charCodeAt(end + 1) <= 0xdfff
    const size = pair ? 4 : unit < 0x80 ? 1 : unit < 0x800 ? 2 : 3
    if (bytes + size > budget) break
    bytes += size
    end += pair ? 2 : 1
  }
  return text.slice(0, end)
}

/** Collects printed lines up to a byte budget (each line counts its UTF-8 bytes plus a newline). */
const makeOutput = (limit: number) => {
  const lines: Array<string> = []
  let used = 0
  let open = true
  const push = (line: string): boolean => {
    if (!open) return false
    const bytes = utf8Length(line) + 1
    if (used + bytes <= limit) {
      lines.push(line)
      used += bytes
      return true
    }
    lines.push(truncateUtf8(line, Math.max(0, limit - used)) + TRUNCATED_MARKER)
    open = false
    return false
  }
  return { lines, push } as const
}

/** JSON for the host's globals: bigint becomes a number when safe, else a string. */
const bigintReplacer = (_key: string, value: unknown): unknown =>
  typeof value === "bigint"
    ? value >= BigInt(Number.MIN_SAFE_INTEGER) && value <= BigInt(Number.MAX_SAFE_INTEGER)
      ? Number(value)
      : value.toString()
    : value

const serializeGlobals = (globals: Readonly<Record<string, unknown>>): string => {
  // Fast path first: a replacer makes V8's JSON.stringify about 2.5x slower on large data.
  try {
    return JSON.stringify(globals)
  } catch (error) {
    if (error instanceof TypeError && /BigInt/i.test(error.message)) return JSON.stringify(globals, bigintReplacer)
    throw error
  }
}

/** Frames kept from a stack trace in error messages. */
const MAX_STACK_FRAMES = 10

/** A QuickJS stack trace, trimmed to its first frames. */
const trimStack = (stack: string): string => {
  const frames = stack.split("\n").filter((line) => line.trim().length > 0)
  return frames.length <= MAX_STACK_FRAMES
    ? frames.join("\n")
    : [...frames.slice(0, MAX_STACK_FRAMES), `    … ${frames.length - MAX_STACK_FRAMES} more frames`].join("\n")
}

const formatMiB = (bytes: number): string => `${Math.round((bytes / MiB) * 10) / 10} MiB`

/** What `describe` reports about a thrown value. */
const Thrown = Schema.Struct({
  name: Schema.String,
  message: Schema.String,
  stack: Schema.String,
  isError: Schema.Boolean,
  isNull: Schema.Boolean
})
type Thrown = typeof Thrown.Type
const decodeThrown = Schema.decodeUnknownOption(Schema.fromJsonString(Thrown))
const UNREADABLE: Thrown = {
  name: "",
  message: "(a thrown value that could not be read)",
  stack: "",
  isError: false,
  isNull: false
}

/** Names that exist in Node or browsers but deliberately not in the sandbox. */
const HOST_ONLY_NAME =
  /^'(require|process|fetch|module|exports|Buffer|global|setTimeout|setInterval|setImmediate|queueMicrotask|XMLHttpRequest|WebSocket|Deno|Bun|__dirname|__filename|performance|structuredClone|TextEncoder|TextDecoder|URL|atob|btoa)' is not defined$/
const SANDBOX_HINT =
  "The sandbox is plain JavaScript with no modules, file system, network, timers or process: use the provided global variables, console.log, save(name, value) and answer(value)."
const PARSE_ERROR_STACK = /^\s*at agent\.js:(\d+):(\d+)\s*$/

/** @internal */
export interface Settings {
  readonly timeoutMs: number
  readonly memoryBytes: number
  readonly maxOutputBytes: number
  readonly wasmBytes: number
}

const resolveSettings = (options: SandboxOptions | undefined): Settings => {
  const positive = (value: number | undefined, fallback: number): number =>
    value !== undefined && Number.isFinite(value) && value > 0 ? value : fallback
  // capped below the 32-bit limit of Node's timers (a longer one fires at once)
  const timeoutMs = Math.min(MAX_TIMEOUT_MS, positive(options?.timeoutMs, DEFAULT_TIMEOUT_MS))
  const requested = positive(options?.memoryBytes, DEFAULT_MEMORY_BYTES)
  const memoryBytes = Math.min(MAX_MEMORY_BYTES, Math.max(MIN_MEMORY_BYTES, Math.ceil(requested / MiB) * MiB))
  const maxOutputBytes = Math.floor(positive(options?.maxOutputBytes, DEFAULT_MAX_OUTPUT_BYTES))
  const wasmBytes = Math.max(MIN_WASM_BYTES, memoryBytes + ENGINE_OVERHEAD_BYTES)
  return { timeoutMs, memoryBytes, maxOutputBytes, wasmBytes }
}

// -----------------------------------------------------------------------------
// hard stop
// -----------------------------------------------------------------------------

/** Holds the step the watchdog script calls; only ever set for the duration of one call. */
const watchdogHolder: { step: (() => unknown) | undefined } = { step: undefined }
let watchdog: { readonly script: Script; readonly context: object } | undefined

/**
 * Run `step` and stop it by force if it is still running after `timeoutMs`.
 *
 * QuickJS polls its interrupt handler only every few thousand operations, so a loop whose body is
 * one long native call (say, sorting a large array without a comparator) can run far past the
 * deadline. As a backstop, the steps that run untrusted code are called from a `node:vm` script
 * with a `timeout`: Node's watchdog thread then terminates the JavaScript and WebAssembly running
 * on this thread, and the call throws `ERR_SCRIPT_EXECUTION_TIMEOUT`. Only the fixed script
 * `step()` runs in that vm context; the untrusted code never does. Termination skips `finally`
 * blocks inside `step`, so the caller must discard the engine afterwards.
 */
const underWatchdog = <A>(timeoutMs: number, step: () => A): A => {
  watchdog ??= {
    script: new Script("step()", { filename: "sandbox-watchdog.js" }),
    context: createContext(watchdogHolder)
  }
  watchdogHolder.step = step
  try {
    return watchdog.script.runInContext(watchdog.context, { timeout: Math.max(1, Math.ceil(timeoutMs)) }) as A
  } finally {
    watchdogHolder.step = undefined
  }
}

const isWatchdogTimeout = (error: unknown): boolean =>
  Predicate.hasProperty(error, "code") && error.code === "ERR_SCRIPT_EXECUTION_TIMEOUT"

// -----------------------------------------------------------------------------
// one call
// -----------------------------------------------------------------------------

const execute = (
  engine: Engine,
  code: string,
  globalsJson: string,
  settings: Settings,
  /** Called just before the untrusted code starts (after the engine and the globals are ready). */
  started: () => void
): SandboxResult | SandboxError => {
  const output = makeOutput(settings.maxOutputBytes)
  const saved = new Map<string, unknown>()
  let answer: { readonly value: unknown } | undefined

  const fail = (reason: SandboxError["reason"], message: string) =>
    new SandboxError({ reason, message, output: output.lines.slice() })
  const outOfMemory = (what: string) =>
    fail(
      "OutOfMemory",
      `${what} (the sandbox allows about ${formatMiB(settings.memoryBytes)}) and was stopped. ` +
        "Avoid building large intermediate arrays or strings: aggregate while iterating, and print, save or return only the summary you need."
    )
  const timeout = () => fail("Timeout", timeoutMessage(settings.timeoutMs))

  // Size checks before anything touches the engine's heap: the glue cannot report a failed allocation.
  const codeBytes = utf8Length(code)
  if (codeBytes * 2 > settings.memoryBytes) {
    return fail(
      "OutOfMemory",
      `The code is ${formatMiB(codeBytes)} of source, too large for the sandbox (about ${formatMiB(
        settings.memoryBytes
      )}). Pass data as global variables instead of writing it into the code.`
    )
  }
  const globalsBytes = utf8Length(globalsJson)
  if (globalsBytes * 3 > settings.memoryBytes) {
    return fail(
      "OutOfMemory",
      `The input data is ${formatMiB(globalsBytes)} as JSON; the sandbox needs about three times that and allows ${formatMiB(
        settings.memoryBytes
      )}. Pass less data, or raise memoryBytes.`
    )
  }

  const heap = engine.heap
  let deadline = Number.POSITIVE_INFINITY
  let interrupted = false
  let poisoned = false
  let runtime: QuickJSRuntime | undefined
  let context: QuickJSContext | undefined
  const scope = new Scope()

  /** Whether the engine's heap cannot give out even a small block. */
  const heapLow = (): boolean => {
    if (heap === undefined) return false
    const probe = heap._malloc(PROBE_BYTES)
    if (probe !== 0) heap._free(probe)
    return probe === 0
  }
  /**
   * Run a step of untrusted code with the reserve held, then release it. If the step left the heap
   * exhausted, the glue may have failed to allocate the handles it returned, so the step's result
   * is not returned at all (and the engine must be discarded).
   */
  const guarded = <A>(
    step: () => A
  ): { readonly exhausted: true } | { readonly exhausted: false; readonly value: A } => {
    const reserve = heap?._malloc(RESERVE_BYTES)
    if (reserve === 0) return { exhausted: true }
    try {
      const value = step()
      return heapLow() ? { exhausted: true } : { exhausted: false, value }
    } finally {
      if (reserve !== undefined) heap?._free(reserve)
    }
  }

  /** Everything that touches the engine; a host exception out of it taints the engine. */
  const session = (): SandboxResult | SandboxError => {
    runtime = engine.module.newRuntime()
    runtime.setMemoryLimit(settings.memoryBytes)
    runtime.setMaxStackSize(MAX_STACK_BYTES)
    runtime.setInterruptHandler(() => {
      if (performance.now() <= deadline) return false
      interrupted = true
      return true
    })
    const vm = runtime.newContext()
    context = vm

    const unwrap = (result: ReturnType<QuickJSContext["evalCode"]>, what: string): QuickJSHandle => {
      if (result.error !== undefined) {
        const thrown = scope.manage(result.error)
        throw new Error(`Sandbox ${what} failed: ${JSON.stringify(vm.dump(thrown))}`)
      }
      return scope.manage(result.value)
    }

    // --- bootstrap: host functions and helpers ---------------------------------------------------
    const hostPrint = scope.manage(
      vm.newFunction("print", (line) =>
        vm.typeof(line) === "string" && output.push(vm.getString(line)) ? vm.true : vm.false
      )
    )
    const hostSave = scope.manage(
      vm.newFunction("save", (name, json) => {
        if (vm.typeof(name) !== "string" || vm.typeof(json) !== "string") return
        const value: unknown = JSON.parse(vm.getString(json))
        saved.set(vm.getString(name), value) // a repeated name keeps its first position, takes the new value
      })
    )
    const hostAnswer = scope.manage(
      vm.newFunction("answer", (json) => {
        answer = { value: vm.typeof(json) === "string" ? (JSON.parse(vm.getString(json)) as unknown) : undefined }
      })
    )
    const boot = unwrap(vm.evalCode(BOOTSTRAP, "sandbox-bootstrap.js", { type: "global", strict: true }), "bootstrap")
    const helpers = unwrap(
      vm.callFunction(
        boot,
        vm.undefined,
        hostPrint,
        hostSave,
        hostAnswer,
        scope.manage(vm.newNumber(settings.maxOutputBytes))
      ),
      "bootstrap"
    )
    const setup = scope.manage(vm.getProp(helpers, 0))
    const toJson = scope.manage(vm.getProp(helpers, 1))
    const describeFn = scope.manage(vm.getProp(helpers, 2))

    /** Read a thrown value's name, message and stack, within a small time budget of its own. */
    const describe = (thrown: QuickJSHandle): Thrown => {
      deadline = performance.now() + DESCRIBE_BUDGET_MS
      const result = vm.callFunction(describeFn, vm.undefined, thrown)
      if (result.error !== undefined) {
        scope.manage(result.error)
        return UNREADABLE
      }
      const text = scope.manage(result.value)
      return vm.typeof(text) === "string"
        ? Option.getOrElse(decodeThrown(vm.getString(text)), () => UNREADABLE)
        : UNREADABLE
    }

    // --- globals (host data, so no deadline) -----------------------------------------------------
    const dataText = globalsJson === "{}" ? undefined : vm.newString(globalsJson)
    const loaded = guarded(() => vm.callFunction(setup, vm.undefined, dataText ?? vm.undefined))
    dataText?.dispose()
    const dataTooLarge = () => outOfMemory(`The input data (${formatMiB(globalsBytes)} as JSON) did not fit in memory`)
    if (loaded.exhausted) {
      poisoned = true
      return dataTooLarge()
    }
    if (loaded.value.error !== undefined) {
      const thrown = describe(scope.manage(loaded.value.error))
      if (thrown.message === "out of memory") {
        poisoned = true
        return dataTooLarge()
      }
      throw new Error(`Sandbox setup failed: ${thrown.name}: ${thrown.message}`)
    }
    scope.manage(loaded.value.value)

    // --- the untrusted code ----------------------------------------------------------------------
    /** Turn a thrown value into the error for the model; `phase` says which step threw it. */
    const failure = (handle: QuickJSHandle, phase: "eval" | "result"): SandboxError => {
      if (interrupted) return timeout()
      const thrown = describe(handle)
      if (thrown.name === "InternalError" && thrown.message === "out of memory") {
        poisoned = true
        return outOfMemory(
          phase === "result" ? "Converting the result to JSON ran out of memory" : "The code ran out of memory"
        )
      }
      if (thrown.name === "InternalError" && thrown.message === "string too long") {
        return fail(
          "OutOfMemory",
          "The code built a string longer than the engine allows (about 2^30 characters) and was stopped. " +
            "Avoid building huge strings: aggregate the data, and print or return only the summary you need."
        )
      }
      if (phase === "result") {
        return fail(
          "InvalidResult",
          `The value of the last expression cannot be converted to JSON (${thrown.name || "Error"}: ${thrown.message}). ` +
            "End the code with plain data (objects, arrays, strings, numbers, booleans or null), or pass plain data to answer(value) or save(name, value)."
        )
      }
      const parse = thrown.name === "SyntaxError" ? PARSE_ERROR_STACK.exec(thrown.stack) : null
      if (parse !== null) {
        const awaitHint = /\bawait\b/.test(code)
          ? " Top-level await is not supported: wrap the code in (async () => { ... })() as the last expression, or drop the await (nothing in the sandbox is asynchronous)."
          : ""
        return fail(
          "SyntaxError",
          `The code does not parse: SyntaxError: ${thrown.message} (line ${parse[1]}, column ${parse[2]}). Fix the syntax and run it again.${awaitHint}`
        )
      }
      if (thrown.name === "InternalError" && thrown.message === "stack overflow") {
        return fail(
          "RuntimeError",
          `The code threw InternalError: stack overflow\n${trimStack(thrown.stack)}\n` +
            "It recursed too deeply; use an iterative algorithm or reduce the nesting depth."
        )
      }
      if (!thrown.isError) {
        // Out of memory while building the error itself makes QuickJS throw `null`.
        if (thrown.isNull && heapLow()) {
          poisoned = true
          return outOfMemory("The code ran out of memory")
        }
        return fail("RuntimeError", `The code threw a non-Error value: ${thrown.message}`)
      }
      const hint =
        HOST_ONLY_NAME.test(thrown.message) || /^could not load module /.test(thrown.message) ? `\n${SANDBOX_HINT}` : ""
      const stack = trimStack(thrown.stack)
      return fail(
        "RuntimeError",
        `The code threw ${thrown.name || "Error"}: ${thrown.message}${stack.length > 0 ? `\n${stack}` : ""}${hint}`
      )
    }
    /** When a step exhausted the heap, the engine is discarded; a timeout still reads as one. */
    const exhausted = (what: string): SandboxError => {
      poisoned = true
      return interrupted ? timeout() : outOfMemory(what)
    }

    const evaluate = (): SandboxResult | SandboxError => {
      deadline = performance.now() + settings.timeoutMs
      const evaluated = guarded(() => vm.evalCode(code, FILENAME, { type: "global" }))
      if (evaluated.exhausted) return exhausted("The code ran out of memory")
      if (evaluated.value.error !== undefined) return failure(scope.manage(evaluated.value.error), "eval")
      const completion = scope.manage(evaluated.value.value)

      // Run queued promise jobs, so an async IIFE (or any promise chain) can finish.
      const jobs = guarded(() => vm.runtime.executePendingJobs())
      if (jobs.exhausted) return exhausted("The code ran out of memory")
      if (jobs.value.error !== undefined) return failure(scope.manage(jobs.value.error), "eval")
      if (interrupted) return timeout()

      let resultHandle = completion
      const state = vm.getPromiseState(completion)
      if (state.type === "pending") {
        return fail(
          "InvalidResult",
          "The last expression is a Promise that never settled (the sandbox has no timers or I/O, so nothing can resolve it later). " +
            "Compute the value synchronously, or make the last expression an async IIFE that only awaits promises that settle."
        )
      }
      if (state.type === "rejected") return failure(scope.manage(state.error), "eval")
      if (state.notAPromise !== true) resultHandle = scope.manage(state.value)

      const dumped = guarded(() => vm.callFunction(toJson, vm.undefined, resultHandle))
      if (dumped.exhausted) return exhausted("Converting the result to JSON ran out of memory")
      if (dumped.value.error !== undefined) return failure(scope.manage(dumped.value.error), "result")
      const json = scope.manage(dumped.value.value)
      if (interrupted) return timeout()
      const value: unknown = vm.typeof(json) === "string" ? JSON.parse(vm.getString(json)) : undefined

      return {
        value,
        output: output.lines,
        saved: Array.from(saved, ([name, value]) => ({ name, value })),
        answer
      }
    }

    started()
    return underWatchdog(settings.timeoutMs + HARD_STOP_GRACE_MS, evaluate)
  }

  let outcome: SandboxResult | SandboxError
  try {
    outcome = session()
  } catch (cause) {
    // Any host exception thrown through the engine leaves its WebAssembly state unknown.
    discardEngine(engine)
    if (isWatchdogTimeout(cause)) return timeout()
    if (cause instanceof RangeError && /call stack/i.test(cause.message)) {
      return fail(
        "RuntimeError",
        `The code nested too deeply and exhausted the engine's stack (${String(cause)}); the sandbox was reset. ` +
          "Use an iterative algorithm, or reduce the nesting depth of the code and data."
      )
    }
    if (cause instanceof wasmApi().RuntimeError) {
      return fail(
        "RuntimeError",
        `The JavaScript engine crashed while running the code (${String(cause)}); the sandbox was reset. ` +
          "Simplify the code or process less data at once."
      )
    }
    throw cause
  }
  if (poisoned) {
    // Not disposed: freeing a runtime in this state can itself fail; the instance is dropped whole.
    discardEngine(engine)
    return outcome
  }
  // This build asserts that every handle was released when the runtime is freed, so a leak
  // surfaces here as an abort (a defect) instead of going unnoticed.
  try {
    scope.dispose()
    context?.dispose()
    runtime?.dispose()
  } catch (error) {
    discardEngine(engine)
    throw error
  }
  return outcome
}

// -----------------------------------------------------------------------------
// api
// -----------------------------------------------------------------------------

/**
 * Run model-written JavaScript in a fresh QuickJS sandbox.
 *
 * `globals` are JSON-like values placed in scope as global variables (serialised once with
 * `JSON.stringify` and parsed inside the engine; `undefined` properties are skipped, bigint becomes
 * a number when safe and a string otherwise, Dates become ISO strings, Map and Set are not
 * supported). `console`, `save` and `answer` are defined after them and win on a name clash.
 *
 * Inside the sandbox:
 * - `console.log/info/warn/error/debug(...values)` prints one line (strings as is, other values as
 *   JSON), up to `maxOutputBytes` in total.
 * - `save(name, value)` records `value` under `name` (a JavaScript identifier) and returns `name`.
 * - `answer(value)` records the final answer.
 * - The completion value of the script (its last expression) is the result. If it is a Promise,
 *   queued jobs are run and its settled value is used, so `(async () => { ... })()` works.
 *
 * Values leave the sandbox as JSON: functions and `undefined` become `undefined`, `NaN` and
 * `Infinity` become `null`, bigint becomes a number or string, Map becomes an object, Set an array.
 *
 * The code runs on a worker thread (see "threads" below), so the caller's thread, and every
 * other fiber on it, goes on while it runs; interrupting the call stops the thread at once.
 *
 * Fails with {@link SandboxError} for syntax errors, thrown errors, timeouts, memory exhaustion and
 * results that cannot be converted; a host-side bug (for example a circular `globals` value) is a
 * defect.
 *
 * @example
 * ```ts
 * const result = yield* Sandbox.run(
 *   "const total = rows.reduce((sum, row) => sum + row.amount, 0); console.log(total); total",
 *   { rows: [{ amount: 1 }, { amount: 2 }] }
 * )
 * // result.value === 3, result.output == ["3"]
 * ```
 */
export const run = (
  code: string,
  globals: Readonly<Record<string, unknown>>,
  options?: SandboxOptions
): Effect.Effect<SandboxResult, SandboxError> =>
  threads.withPermits(1)(
    Effect.suspend(() =>
      // serialised here, once it is this call's turn: a value that cannot be (a cycle) is the
      // caller's defect, as before
      onThread({ code, globalsJson: serializeGlobals(globals), settings: resolveSettings(options) })
    )
  )

/**
 * {@link run} on the calling thread: what a sandbox thread does with a job. `globalsJson` is the
 * globals as {@link run} serialised them.
 * @internal
 */
export const runHere = Effect.fnUntraced(function* (
  code: string,
  globalsJson: string,
  settings: Settings,
  started: () => void = () => {}
) {
  const engine = yield* loadEngine(settings.wasmBytes)
  const outcome = execute(engine, code, globalsJson, settings, started)
  if (outcome instanceof SandboxError) return yield* outcome
  return outcome
})

// -----------------------------------------------------------------------------
// threads
// -----------------------------------------------------------------------------

/**
 * A job for a sandbox thread.
 * @internal
 */
export interface Job {
  readonly code: string
  readonly globalsJson: string
  readonly settings: Settings
}

/**
 * What a sandbox thread sends back for a job.
 * @internal
 */
export type Reply =
  | { readonly _tag: "Success"; readonly result: SandboxResult }
  | {
      readonly _tag: "Failure"
      readonly reason: SandboxError["reason"]
      readonly message: string
      readonly output: ReadonlyArray<string>
    }
  | { readonly _tag: "Defect"; readonly name: string; readonly message: string; readonly stack: string | undefined }
  /** Sent before the final reply, when the untrusted code starts: from then on the hard stop runs. */
  | { readonly _tag: "Started" }

/** A thread's last message for a job. */
type Answer = Exclude<Reply, { readonly _tag: "Started" }>
type Defect = Extract<Reply, { readonly _tag: "Defect" }>

/**
 * A defect as a thread sends it: an `Error` keeps its name, message and stack.
 * @internal
 */
export const defectOf = (error: unknown): Defect =>
  error instanceof Error
    ? { _tag: "Defect", name: error.name, message: error.message, stack: error.stack }
    : { _tag: "Defect", name: "Error", message: String(error), stack: undefined }

/**
 * Model code runs on worker threads. QuickJS runs synchronously, so on the caller's thread one
 * call held every other fiber there (every other session's stream) for as long as the code ran,
 * up to its limit. At most `MAX_THREADS` calls run at once (one on a 2-core machine: the other
 * core stays with the caller); further calls wait their turn. A thread is kept for the next call
 * (unref'd, so it never keeps the process alive) unless its call was interrupted or overran its
 * hard stop, in which case it is terminated and the next call starts a fresh one.
 */
const MAX_THREADS = Math.max(1, Math.min(4, availableParallelism() - 1))
const threads = Semaphore.makeUnsafe(MAX_THREADS)
const idleThreads: Array<Worker> = []

/**
 * How long past the code's own hard stop (`timeoutMs + HARD_STOP_GRACE_MS`, inside the thread) the
 * caller waits for a reply before it terminates the thread.
 */
const THREAD_GRACE_MS = 2_000

/**
 * The thread's bootstrap. From the built package it imports `sandboxThread.js`; run from the
 * TypeScript sources (tests, `npm start`), it first registers tsx, a dev dependency, to load them.
 */
const THREAD_SOURCE = `
const { workerData } = require("node:worker_threads");
(async () => {
  if (workerData.tsx !== undefined) (await import(workerData.tsx)).register();
  await import(workerData.entry);
})().catch((error) => {
  require("node:worker_threads").parentPort.postMessage({ _tag: "Defect", name: "Error", message: "the sandbox thread did not start: " + String(error), stack: error && error.stack });
});
`

const threadData = (): { readonly entry: string; readonly tsx: string | undefined } => {
  const fromSources = import.meta.url.endsWith(".ts")
  return {
    entry: new URL(fromSources ? "./sandboxThread.ts" : "./sandboxThread.js", import.meta.url).href,
    // registered in the thread itself: on Node 20 a loader given with --import does not reach threads
    tsx: fromSources ? tsxApi() : undefined
  }
}

/** The file URL of tsx's ESM API (its `import` export; the `require` one cannot register in a thread). */
const tsxApi = (): string => {
  const manifest = createRequire(import.meta.url).resolve("tsx/package.json")
  const exports = (JSON.parse(readFileSync(manifest, "utf8")) as { exports: Record<string, unknown> }).exports
  const api = exports["./esm/api"] as { readonly import: { readonly default: string } }
  return new URL(api.import.default, pathToFileURL(manifest)).href
}

const startThread = (): Worker => {
  // the process's own node flags (preloads, loaders, conditions) apply in the thread too, as they
  // do by default
  const thread = new Worker(THREAD_SOURCE, { eval: true, workerData: threadData(), stdout: false, stderr: false })
  // an idle thread that fails or exits is dropped (a busy one's call reports it, see onThread)
  const drop = () => void removeIdle(thread)
  thread.on("error", drop)
  thread.on("exit", drop)
  return thread
}

/** Takes `thread` out of the idle list; whether it was there. */
const removeIdle = (thread: Worker): boolean => {
  const index = idleThreads.indexOf(thread)
  if (index === -1) return false
  idleThreads.splice(index, 1)
  return true
}

/** Idle threads (each with its loaded engines) are stopped after this long without a call. */
const THREAD_IDLE_MS = 30_000
const retireTimers = new WeakMap<Worker, ReturnType<typeof setTimeout>>()

const takeIdleThread = (): Worker | undefined => {
  const thread = idleThreads.pop()
  if (thread !== undefined) clearTimeout(retireTimers.get(thread))
  return thread
}

const keepIdleThread = (thread: Worker): void => {
  thread.unref()
  idleThreads.push(thread)
  const timer = setTimeout(() => {
    if (removeIdle(thread)) void thread.terminate()
  }, THREAD_IDLE_MS)
  timer.unref()
  retireTimers.set(thread, timer)
}

/** Runs `job` on an idle thread (or a new one) and gives the thread back when it answered. */
const onThread = (job: Job): Effect.Effect<SandboxResult, SandboxError> =>
  Effect.flatMap(
    Effect.callback<Answer>((resume) => {
      const thread = takeIdleThread() ?? startThread()
      thread.ref()
      let done = false
      let hardStop: ReturnType<typeof setTimeout> | undefined
      /** Ends this call's hold on the thread, once: kept for the next call, or terminated. */
      const release = (keep: boolean): boolean => {
        if (done) return false
        done = true
        clearTimeout(hardStop)
        thread.off("message", onMessage)
        thread.off("error", onError)
        thread.off("exit", onExit)
        if (keep) keepIdleThread(thread)
        else void thread.terminate()
        return true
      }
      const finish = (reply: Answer, keep: boolean) => {
        if (release(keep)) resume(Effect.succeed(reply))
      }
      const onMessage = (reply: Reply) => {
        if (reply._tag !== "Started") return finish(reply, reply._tag !== "Defect")
        // the code runs from now: starting the thread, loading the engine and the globals are not
        // its time (the thread's own hard stop is timeoutMs + HARD_STOP_GRACE_MS from here too)
        hardStop = setTimeout(
          () =>
            finish(
              { _tag: "Failure", reason: "Timeout", message: timeoutMessage(job.settings.timeoutMs), output: [] },
              false
            ),
          job.settings.timeoutMs + HARD_STOP_GRACE_MS + THREAD_GRACE_MS
        )
      }
      const onError = (error: unknown) => finish(defectOf(`the sandbox thread failed: ${String(error)}`), false)
      const onExit = (code: number) => finish(defectOf(`the sandbox thread exited with code ${code}`), false)
      thread.on("message", onMessage)
      thread.on("error", onError)
      thread.on("exit", onExit)
      thread.postMessage(job)
      // interrupted: the thread is stopped where it is, and not reused
      return Effect.sync(() => void release(false))
    }),
    (reply): Effect.Effect<SandboxResult, SandboxError> => {
      switch (reply._tag) {
        case "Success":
          return Effect.succeed(reply.result)
        case "Failure":
          return Effect.fail(new SandboxError({ reason: reply.reason, message: reply.message, output: reply.output }))
        case "Defect":
          return Effect.die(rebuild(reply))
      }
    }
  )

/** A thread's defect as an `Error` of the same name, message and stack. */
const rebuild = (reply: Defect) => {
  const error = new Error(reply.message)
  error.name = reply.name
  if (reply.stack !== undefined) error.stack = reply.stack
  return error
}
