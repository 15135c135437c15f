/**
 * Immutable views of the content blocks of a turn in progress, for snapshots: each view keeps
 * the block as it was when the snapshot was taken, at O(1) cost per event, and builds the block
 * object only when it is read (then keeps it).
 *
 * - text and thinking: the text so far is a {@link Rope}, an append-only list of deltas joined 32
 *   at a time (as `TurnAccumulator` joins them); a view keeps the rope's joined prefix, its list
 *   and how many entries of it were there, so later deltas do not show through. Reading the text
 *   costs the length of the text so far (flattening the string once).
 * - tool input: the JSON so far is a string (immutable), and it is parsed (`parsePartial`, the
 *   SDK's completion of cut-short JSON) when the input is read: O(length of the JSON so far), once
 *   per view. Nothing is parsed for a snapshot whose input nobody reads.
 * - anything else (a closed block, an opaque block): a shallow copy of the block.
 *
 * @internal
 */
import type * as Message from "../core/Message.js"
import { parsePartial } from "../core/partialJson.js"

/** A block's fields, as `TurnAccumulator` holds them. */
export type Fields = { readonly type: string; readonly [key: string]: unknown }

/** Deltas joined this many at a time; see `TurnAccumulator`'s `JOIN_EVERY` for why. */
const JOIN_EVERY = 32

/** The text of one block so far: a joined prefix and the deltas since, appended in place. */
export class Rope {
  private parts: Array<string> = []
  constructor(private prefix: string) {}

  push(delta: string): void {
    if (this.parts.push(delta) >= JOIN_EVERY) {
      this.prefix += this.parts.join("")
      // a fresh list: views taken before keep the old one, which is never appended to again
      this.parts = []
    }
  }

  /** A view of the block with this text, as it is now. */
  view(base: Fields, key: "text" | "thinking"): TextView {
    return new TextView(base, key, this.prefix, this.parts, this.parts.length)
  }
}

/** A block as a snapshot shows it. */
export interface View {
  readonly base: Fields
  block(): Message.ContentBlock
}

/** A block that no longer changes (or has no deltas the fold tracks). */
export class WholeView implements View {
  constructor(readonly base: Fields) {}
  block(): Message.ContentBlock {
    return this.base as Message.ContentBlock
  }
}

/** A text or thinking block in progress. */
export class TextView implements View {
  private built: Message.ContentBlock | undefined = undefined
  constructor(
    readonly base: Fields,
    private readonly key: "text" | "thinking",
    private readonly prefix: string,
    private readonly parts: ReadonlyArray<string>,
    private readonly count: number
  ) {}

  text(): string {
    if (this.count === 0) return this.prefix
    return this.prefix + (this.count === 1 ? this.parts[0]! : this.parts.slice(0, this.count).join(""))
  }

  block(): Message.ContentBlock {
    this.built ??= { ...this.base, [this.key]: this.text() } as Message.ContentBlock
    return this.built
  }
}

/** A tool call (or another block with streamed input) in progress. */
export class InputView implements View {
  private parsed = false
  private value: unknown = undefined
  private built: Message.ContentBlock | undefined = undefined
  constructor(
    readonly base: Fields,
    readonly index: number,
    readonly json: string
  ) {}

  /**
   * The input parsed so far: `{}` before any key is whole; a value cut short is left out, as the
   * SDK's `MessageStream` leaves it out. JSON that is not a prefix of JSON (the turn will fail at
   * its block stop) shows as the block's input at its start.
   */
  input(): unknown {
    if (!this.parsed) {
      this.parsed = true
      try {
        this.value = this.json.length === 0 ? (this.base.input ?? {}) : parsePartial(this.json)
      } catch {
        this.value = this.base.input ?? {}
      }
    }
    return this.value
  }

  block(): Message.ContentBlock {
    this.built ??= { ...this.base, input: this.input() } as Message.ContentBlock
    return this.built
  }
}
