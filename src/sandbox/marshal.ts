/**
 * Moving data across the sandbox's edges: the globals in (one JSON text), printed lines and saved
 * values out (each bounded as it arrives), thrown values read back, and UTF-8 sizes counted
 * without allocating.
 *
 * @internal
 */

import { Option, Schema } from "effect"
import { stringify } from "../core/jsonValue.js"
import { SAVE_OK, SAVE_TOO_LARGE, SAVE_TOO_MANY } from "./bootstrap.js"

// -----------------------------------------------------------------------------
// UTF-8
// -----------------------------------------------------------------------------

/** UTF-8 length of a string, without allocating. */
export const utf8Length = (text: string): number => {
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

// -----------------------------------------------------------------------------
// out: printed lines and saved values
// -----------------------------------------------------------------------------

const TRUNCATED_MARKER = "…(truncated)"

/** Printed lines, collected up to a byte budget (each line counts its UTF-8 bytes plus a newline). */
export interface Output {
  readonly lines: Array<string>
  /** Records a line; `false` once the budget is spent (the last line is cut and marked). */
  readonly push: (line: string) => boolean
}

/** An empty {@link Output} with a budget of `limit` bytes. */
export const makeOutput = (limit: number): Output => {
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
  return { lines, push }
}

/**
 * Values recorded with `save(name, json)`, as JSON text, within the call's bounds: at most
 * `maxSaves` distinct names and `maxSaveBytes` bytes of JSON in all (a repeated name keeps its
 * first position and takes the new value, and only its new size counts). A save past a bound is
 * not recorded, and `exceeded` remembers which bound it was, so the call fails even when the code
 * catches the error `save` threw.
 */
export interface Saves {
  readonly entries: Map<string, string>
  /** Records a save; answers `SAVE_OK`, or the bound it would pass. */
  readonly add: (name: string, json: string) => number
  readonly exceeded: () => "count" | "bytes" | undefined
}

/** An empty {@link Saves} with the call's bounds. */
export const makeSaves = (maxSaves: number, maxSaveBytes: number): Saves => {
  const entries = new Map<string, string>()
  const sizes = new Map<string, number>()
  let bytes = 0
  let exceeded: "count" | "bytes" | undefined
  const add = (name: string, json: string): number => {
    const previous = sizes.get(name)
    if (previous === undefined && entries.size >= maxSaves) {
      exceeded ??= "count"
      return SAVE_TOO_MANY
    }
    const size = utf8Length(json)
    if (bytes - (previous ?? 0) + size > maxSaveBytes) {
      exceeded ??= "bytes"
      return SAVE_TOO_LARGE
    }
    bytes += size - (previous ?? 0)
    sizes.set(name, size)
    entries.set(name, json)
    return SAVE_OK
  }
  return { entries, add, exceeded: () => exceeded }
}

// -----------------------------------------------------------------------------
// in: the globals
// -----------------------------------------------------------------------------

/**
 * The globals as one JSON text, which the sandbox parses once, whole numbers by the one rule of
 * `core/jsonValue` (a bigint is a number when safe, else its decimal string). A cycle is the
 * caller's defect.
 */
export const serializeGlobals = (globals: Readonly<Record<string, unknown>>): string => stringify(globals) ?? "{}"

// -----------------------------------------------------------------------------
// thrown values
// -----------------------------------------------------------------------------

/** Frames kept from a stack trace in error messages. */
const MAX_STACK_FRAMES = 10

/** A QuickJS stack trace, trimmed to its first frames. */
export const trimStack = (stack: string): string => {
  const frames = stack.split("\n").filter((line) => line.trim().length > 0)
  return frames.length <= MAX_STACK_FRAMES
    ? frames.join("\n")
    : [...frames.slice(0, MAX_STACK_FRAMES), `    … ${frames.length - MAX_STACK_FRAMES} more frames`].join("\n")
}

/** What the bootstrap's `describe` reports about a thrown value. */
const Thrown = Schema.Struct({
  name: Schema.String,
  message: Schema.String,
  stack: Schema.String,
  isError: Schema.Boolean,
  isNull: Schema.Boolean
})
/** A thrown value's name, message and stack, as `describe` read them. */
export type Thrown = typeof Thrown.Type

/** A thrown value that could not be read (its getters threw, or `describe` itself failed). */
export const UNREADABLE: Thrown = {
  name: "",
  message: "(a thrown value that could not be read)",
  stack: "",
  isError: false,
  isNull: false
}

const decodeThrown = Schema.decodeUnknownOption(Schema.fromJsonString(Thrown))

/** The JSON `describe` returned, read back; {@link UNREADABLE} if it is not what it should be. */
export const readThrown = (json: string): Thrown => Option.getOrElse(decodeThrown(json), () => UNREADABLE)
