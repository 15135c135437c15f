/**
 * The QuickJS engines of one sandbox thread: QuickJS compiled to WebAssembly, one instance per
 * memory size, each in a fixed-size `WebAssembly.Memory` so its heap cannot grow past the cap.
 *
 * The WebAssembly and its JavaScript glue (`@jitl/quickjs-wasmfile-release-sync`,
 * `quickjs-emscripten-core`) are imported dynamically by the first call that needs an engine, on
 * the sandbox thread: the host thread never loads them, and importing the package costs nothing
 * for them (only types are imported statically).
 *
 * An engine that cannot be trusted any more (a forced stop, a trap, an exhausted heap), or one
 * evicted to make room for another size, is dropped from the cache and the thread asks to be
 * retired: the pool terminates it after its reply, which frees the WebAssembly memory at once
 * instead of when the thread's garbage collector gets to it.
 *
 * @internal
 */
import type { QuickJSSyncVariant, QuickJSWASMModule } from "quickjs-emscripten-core"
import { WASM_PAGE_BYTES } from "./limits.js"

/** The Emscripten heap functions, used to hold the reserve and probe for exhaustion. */
export interface WasmHeap {
  readonly _malloc: (size: number) => number
  readonly _free: (pointer: number) => void
}

/** One loaded engine: a QuickJS module in its own fixed-size WebAssembly memory. */
export interface Engine {
  readonly module: QuickJSWASMModule
  readonly heap: WasmHeap | undefined
  readonly wasmBytes: number
}

/** The engines of one thread. */
export interface Engines {
  /** The engine for a memory size: loaded on first use, then reused. */
  readonly load: (wasmBytes: number) => Promise<Engine>
  /** Forgets an engine whose WebAssembly state can no longer be trusted. */
  readonly discard: (engine: Engine) => void
  /** Whether an engine was discarded or evicted: the thread should be terminated after its reply. */
  readonly shouldRetire: () => boolean
}

/** Distinct memory sizes kept loaded at once; each is one WebAssembly instance. */
const MAX_ENGINES = 4

/**
 * The parts of the global `WebAssembly` object used here, typed locally so the module compiles
 * without the DOM lib (`@types/node` 22 does not declare `WebAssembly`).
 */
interface WasmApi {
  readonly Memory: new (descriptor: { readonly initial: number; readonly maximum: number }) => object
  readonly RuntimeError: abstract new (...args: ReadonlyArray<never>) => Error
}
/** The global `WebAssembly` object, as far as it is used here. */
export const wasmApi = (): WasmApi => (globalThis as unknown as { readonly WebAssembly: WasmApi }).WebAssembly

/**
 * The release-sync variant object. Its package types it as CommonJS, so depending on the module
 * resolution the default export arrives as the variant or wrapped in `{ default }`; unwrap either.
 */
const syncVariantOf = (imported: unknown): QuickJSSyncVariant => {
  let candidate: unknown = imported
  for (let depth = 0; depth < 3; depth++) {
    if (typeof candidate !== "object" || candidate === null) break
    if ("type" in candidate && candidate.type === "sync") return candidate as QuickJSSyncVariant
    candidate = "default" in candidate ? candidate.default : undefined
  }
  throw new Error("@jitl/quickjs-wasmfile-release-sync does not export a QuickJS sync variant")
}

const readHeap = (module: QuickJSWASMModule): WasmHeap | undefined => {
  // `module` is a protected field of QuickJSWASMModule holding the Emscripten module.
  const emscripten = (module as unknown as { readonly module?: Partial<WasmHeap> }).module
  return typeof emscripten?._malloc === "function" && typeof emscripten._free === "function"
    ? { _malloc: emscripten._malloc.bind(emscripten), _free: emscripten._free.bind(emscripten) }
    : undefined
}

const createEngine = async (wasmBytes: number): Promise<Engine> => {
  const [core, variant] = await Promise.all([
    import("quickjs-emscripten-core"),
    import("@jitl/quickjs-wasmfile-release-sync")
  ])
  const pages = wasmBytes / WASM_PAGE_BYTES
  // A fixed-size memory: the engine's heap cannot grow past it, whatever the code allocates.
  const wasmMemory = new (wasmApi().Memory)({ initial: pages, maximum: pages }) as NonNullable<
    Parameters<typeof core.newVariant>[1]["wasmMemory"]
  >
  const module = await core.newQuickJSWASMModuleFromVariant(core.newVariant(syncVariantOf(variant), { wasmMemory }))
  return { module, heap: readHeap(module), wasmBytes }
}

/** The engines of a new thread: none loaded yet. */
export const makeEngines = (): Engines => {
  const cache = new Map<number, Promise<Engine>>()
  let retire = false
  const load = (wasmBytes: number): Promise<Engine> => {
    const cached = cache.get(wasmBytes)
    if (cached !== undefined) return cached
    if (cache.size >= MAX_ENGINES) {
      const oldest = cache.keys().next()
      if (oldest.done !== true) cache.delete(oldest.value)
      retire = true
    }
    const promise = createEngine(wasmBytes)
    cache.set(wasmBytes, promise)
    // A failed load is not cached: the next call tries again.
    promise.catch(() => {
      if (cache.get(wasmBytes) === promise) cache.delete(wasmBytes)
    })
    return promise
  }
  const discard = (engine: Engine): void => {
    cache.delete(engine.wasmBytes)
    retire = true
  }
  return { load, discard, shouldRetire: () => retire }
}
