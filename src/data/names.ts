/**
 * Handle names: turning a requested name into an identifier usable in SQL and JavaScript, and the
 * index of a store's handles by name, ignoring case as SQL does.
 * @since 0.1.0
 */
import { Effect } from "effect"
import { DataError } from "../core/HarnessError.js"
import type { Handle } from "./model.js"

/** JavaScript keywords and the sandbox's globals, which a handle must not shadow (case-sensitive). */
const JS_RESERVED = new Set(
  (
    "break case catch class const continue debugger default delete do else enum export extends false finally for " +
    "function if import in instanceof new null return super switch this throw true try typeof var void while with " +
    "yield let static implements interface package private protected public await arguments eval undefined NaN " +
    "Infinity globalThis console save answer Object Array Math JSON Date String Number Boolean Symbol Map Set " +
    "WeakMap WeakSet Promise Error TypeError RangeError SyntaxError RegExp BigInt Reflect Proxy Intl parseInt " +
    "parseFloat isNaN isFinite ArrayBuffer Uint8Array Float64Array"
  ).split(" ")
)

/** DuckDB's reserved keywords (`duckdb_keywords()`), which cannot name a table unquoted (case-insensitive). */
const SQL_RESERVED = new Set(
  (
    "all analyse analyze and any array as asc asymmetric both case cast check collate column constraint create " +
    "default deferrable desc describe distinct do else end except false fetch for foreign from group having in " +
    "initially intersect into lambda lateral leading limit not null offset on only or order pivot pivot_longer " +
    "pivot_wider placing primary qualify references returning select show some summarize symmetric table then to " +
    "trailing true union unique unpivot using variadic when where window with"
  ).split(" ")
)

/**
 * Turns a requested name into a valid identifier: letters, digits and `_`, not starting with a
 * digit, not a JavaScript or SQL keyword or a sandbox global. Fails on a name with no usable
 * character.
 * @since 0.1.0
 */
export const normalizeName = (requested: string): Effect.Effect<string, DataError> => {
  let name = requested
    .trim()
    .replace(/[^A-Za-z0-9_]+/g, "_")
    .replace(/^_+|_+$/g, "")
  if (name.length === 0) {
    return Effect.fail(
      new DataError({
        reason: "InvalidName",
        name: requested,
        message: `"${requested}" cannot be a handle name: use letters, digits and underscores, e.g. "sales_2024".`
      })
    )
  }
  if (/^[0-9]/.test(name)) name = `_${name}`
  if (JS_RESERVED.has(name) || SQL_RESERVED.has(name.toLowerCase())) name = `${name}_`
  return Effect.succeed(name)
}

const SUFFIXED = /^(.*)_([0-9]+)$/

/**
 * A store's handles by lower-cased name, in the order they were put. Every operation is O(1)
 * (amortised for {@link freeName}); nothing copies or scans the whole index.
 * @since 0.1.0
 */
export class HandleIndex {
  /** Lower-cased name → handle. */
  private readonly byKey = new Map<string, Handle>()
  /**
   * Lower-cased base → a suffix from which `base_<n>` may be free: every suffix from 2 up to it is
   * taken. It only grows while names are taken, and drops back when a suffixed name is removed.
   */
  private readonly nextSuffix = new Map<string, number>()
  /** Lower-cased names set or deleted since the last {@link drainChanges}, when tracked (a session store). */
  private changes: Set<string> | undefined = undefined

  /** Starts recording which names change, for a session store to commit them. */
  trackChanges(): void {
    this.changes ??= new Set()
  }

  /** The lower-cased names set or deleted since the last call (empty when not tracking). */
  drainChanges(): ReadonlyArray<string> {
    if (this.changes === undefined || this.changes.size === 0) return []
    const changed = [...this.changes]
    this.changes.clear()
    return changed
  }

  /** Records names as changed again (a commit of them failed). */
  markChanged(keys: Iterable<string>): void {
    if (this.changes === undefined) return
    for (const key of keys) this.changes.add(key)
  }

  /** The handle of that name, ignoring case. */
  get(name: string): Handle | undefined {
    return this.byKey.get(name.toLowerCase())
  }

  /** Every handle, in the order they were put. */
  list(): ReadonlyArray<Handle> {
    return [...this.byKey.values()]
  }

  /** Every handle, in the order they were put, without copying. */
  values(): IterableIterator<Handle> {
    return this.byKey.values()
  }

  /** `base` when no handle has that name (ignoring case), else the first free `base_2`, `base_3`, …. */
  freeName(base: string): string {
    const key = base.toLowerCase()
    if (!this.byKey.has(key)) return base
    let suffix = this.nextSuffix.get(key) ?? 2
    while (this.byKey.has(`${key}_${suffix}`)) suffix++
    this.nextSuffix.set(key, suffix)
    return `${base}_${suffix}`
  }

  /**
   * Adds `handle`, replacing the one of the same name ignoring case. A replacement spelled the
   * same keeps its place; one spelled differently (`SALES` over `sales`) moves to the end.
   */
  set(handle: Handle): void {
    const key = handle.name.toLowerCase()
    if (this.byKey.get(key)?.name !== handle.name) this.byKey.delete(key)
    this.byKey.set(key, handle)
    this.changes?.add(key)
  }

  /** Removes the handle of that name, ignoring case; returns it, if there was one. */
  delete(name: string): Handle | undefined {
    const key = name.toLowerCase()
    const handle = this.byKey.get(key)
    if (handle === undefined) return undefined
    this.byKey.delete(key)
    this.changes?.add(key)
    const suffixed = SUFFIXED.exec(key)
    if (suffixed !== null) {
      const [, base, digits] = suffixed
      const next = this.nextSuffix.get(base!)
      if (next !== undefined && Number(digits) < next) this.nextSuffix.set(base!, Number(digits))
    }
    return handle
  }
}
