/**
 * The limits of one sandbox call: what a caller may ask for (`SandboxOptions`), the settings they
 * resolve to (`Settings`, what a thread receives with a job), and the constants behind them.
 *
 * @internal
 */

/**
 * Limits for one sandbox call. Every field is optional; the defaults suit the agent's tool.
 *
 * @example
 * ```ts
 * const options: SandboxOptions = { timeoutMs: 500, memoryBytes: 16 * 1024 * 1024 }
 * ```
 */
export interface SandboxOptions {
  /**
   * Time budget of the call, in milliseconds (default 2000): moving the globals in, running the
   * code and moving the result out all count; waiting for a free thread and loading the engine
   * do not.
   */
  readonly timeoutMs?: number | undefined
  /** Heap available to the code, in bytes (rounded up to whole MiB, at least 1 MiB). Default 64 MiB. */
  readonly memoryBytes?: number | undefined
  /** Cap on the total printed output, in UTF-8 bytes. Default 64 KiB. */
  readonly maxOutputBytes?: number | undefined
  /** Most distinct names one call may `save` (a repeated name counts once). Default 100. */
  readonly maxSaves?: number | undefined
  /** Most UTF-8 bytes of JSON the saved values of one call may add up to. Default 16 MiB. */
  readonly maxSaveBytes?: number | undefined
}

/** A call's limits, resolved and validated: what a thread receives with a job. */
export interface Settings {
  readonly timeoutMs: number
  readonly memoryBytes: number
  readonly maxOutputBytes: number
  readonly maxSaves: number
  readonly maxSaveBytes: number
  /** The engine's fixed WebAssembly memory: `memoryBytes` plus the engine's own allowance. */
  readonly wasmBytes: number
}

/** Bytes in a KiB. */
export const KiB = 1024
/** Bytes in a MiB. */
export const MiB = 1024 * KiB

/** The sandbox's own default time limit (the `javascript` tool passes its own, 5 s). */
export const DEFAULT_TIMEOUT_MS = 2_000
/** About 23 days: with every grace added, still within Node's timers (2^31 - 1 ms). */
const MAX_TIMEOUT_MS = 2_000_000_000
const DEFAULT_MEMORY_BYTES = 64 * MiB
const DEFAULT_MAX_OUTPUT_BYTES = 64 * KiB
/** Default of `maxSaves`: distinct names one call may save. */
export const DEFAULT_MAX_SAVES = 100
/** Default of `maxSaveBytes`: bytes of JSON the saved values of one call may add up to. */
export const DEFAULT_MAX_SAVE_BYTES = 16 * MiB
const MIN_MEMORY_BYTES = 1 * MiB
const MAX_MEMORY_BYTES = 1024 * MiB

/**
 * QuickJS stack limit. Measured on Node 20 with the default host stack: plain JS recursion
 * overflows the host stack at about 390 KiB of QuickJS stack, so 256 KiB (about 1,300 frames)
 * leaves a margin; 1 MiB would run into the host's stack limit first.
 */
export const MAX_STACK_BYTES = 256 * KiB
/**
 * WebAssembly memory on top of `memoryBytes`: the build's 5 MiB C stack and static data, the
 * QuickJS runtime itself, and the reserve below.
 */
const ENGINE_OVERHEAD_BYTES = 8 * MiB
/** The prebuilt module imports a memory of at least 16 MiB (its `INITIAL_MEMORY`). */
const MIN_WASM_BYTES = 16 * MiB
/** A WebAssembly memory page. */
export const WASM_PAGE_BYTES = 64 * KiB
/** Held while untrusted code runs, freed afterwards, so reading the outcome never meets a full heap. */
export const RESERVE_BYTES = 256 * KiB
/** If a block this big cannot be allocated after the code ran, the heap counts as exhausted. */
export const PROBE_BYTES = 64 * KiB
/**
 * How long past `timeoutMs` the hard stop waits before terminating the code by force; normally the
 * interrupt handler has stopped it long before.
 */
export const HARD_STOP_GRACE_MS = 500
/** Budget for reading a thrown value (its `name`/`message`/`stack` may be getters). */
export const DESCRIBE_BUDGET_MS = 100

const positive = (value: number | undefined, fallback: number): number =>
  value !== undefined && Number.isFinite(value) && value > 0 ? value : fallback

/** A whole number of at least 0, or `fallback` for anything else (NaN, negative, missing). */
const count = (value: number | undefined, fallback: number): number =>
  value !== undefined && Number.isFinite(value) && value >= 0 ? Math.floor(value) : fallback

/** The settings `options` ask for; a missing or unusable value takes its default. */
export const resolveSettings = (options: SandboxOptions | undefined): Settings => {
  // capped below the 32-bit limit of Node's timers (a longer one fires at once)
  const timeoutMs = Math.min(MAX_TIMEOUT_MS, positive(options?.timeoutMs, DEFAULT_TIMEOUT_MS))
  const requested = positive(options?.memoryBytes, DEFAULT_MEMORY_BYTES)
  const memoryBytes = Math.min(MAX_MEMORY_BYTES, Math.max(MIN_MEMORY_BYTES, Math.ceil(requested / MiB) * MiB))
  const maxOutputBytes = Math.floor(positive(options?.maxOutputBytes, DEFAULT_MAX_OUTPUT_BYTES))
  const maxSaves = count(options?.maxSaves, DEFAULT_MAX_SAVES)
  const maxSaveBytes = count(options?.maxSaveBytes, DEFAULT_MAX_SAVE_BYTES)
  const wasmBytes = Math.max(MIN_WASM_BYTES, memoryBytes + ENGINE_OVERHEAD_BYTES)
  return { timeoutMs, memoryBytes, maxOutputBytes, maxSaves, maxSaveBytes, wasmBytes }
}

/** `bytes` in MiB with one decimal, for messages. */
export const formatMiB = (bytes: number): string => `${Math.round((bytes / MiB) * 10) / 10} MiB`

/** `bytes` in the largest unit that keeps it at least 1 (bytes, KiB, MiB), for messages. */
export const formatBytes = (bytes: number): string =>
  bytes < KiB ? `${bytes} bytes` : bytes < MiB ? `${Math.round((bytes / KiB) * 10) / 10} KiB` : formatMiB(bytes)

/** What the model reads when a call ran out of time. */
export const timeoutMessage = (timeoutMs: number): string =>
  `The code ran longer than ${timeoutMs} ms and was stopped. ` +
  "Do less work per call: avoid unbounded or nested loops over large data, aggregate in a single pass, and print or return only summaries."

/** What the model reads when moving the input data in took the whole time budget. */
export const inputTimeoutMessage = (timeoutMs: number, usedMs: number): string =>
  `Moving the input data into the sandbox took ${Math.round(usedMs)} ms of the call's ${timeoutMs} ms limit, so the code did not run. ` +
  "Mention fewer or smaller handles in the code (every handle it names is loaded whole), or reduce the data first with SQL."
