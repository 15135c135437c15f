/**
 * One event log stream held in memory: a ring of its newest entries, the readers waiting for
 * more, and the ask whose `ask_start` has no `ask_end` yet.
 * @internal
 */
import { Cause, Effect, Stream } from "effect"
import { EventsExpired } from "./eventLogErrors.js"
import type { Entry } from "./eventLogService.js"
import type * as ServerEvent from "./ServerEvent.js"

/** @internal */
export class MemoryStream {
  private readonly ring: Array<Entry | undefined>
  private start = 0
  private size = 0
  private nextId: number
  private readonly waiters = new Set<() => void>()
  removed = false
  /** The ask started and not ended. */
  open: string | undefined = undefined

  /** A stream whose next entry gets id `last + 1` (a stream read back from a store has a past). */
  constructor(
    readonly capacity: number,
    last = 0
  ) {
    this.ring = new Array(capacity)
    this.nextId = last + 1
  }

  /** The oldest id held (`last + 1` when it holds none). */
  get first(): number {
    return this.nextId - this.size
  }

  get last(): number {
    return this.nextId - 1
  }

  append(events: ReadonlyArray<ServerEvent.ServerEvent>): number {
    for (const event of events) {
      const entry = { id: this.nextId++, event }
      if (this.size < this.capacity) {
        this.ring[(this.start + this.size++) % this.capacity] = entry
      } else {
        this.ring[this.start] = entry
        this.start = (this.start + 1) % this.capacity
      }
      if (event.type === "ask_start") this.open = event.ask_id
      else if (event.type === "ask_end" && this.open === event.ask_id) this.open = undefined
    }
    this.wake()
    return this.last
  }

  /** The entries after `after`, or `undefined` when some of them are not held. */
  after(after: number): ReadonlyArray<Entry> | undefined {
    const first = this.first
    if (after < first - 1) return undefined
    const out: Array<Entry> = []
    for (let id = Math.max(after + 1, first); id <= this.last; id++) {
      out.push(this.ring[(this.start + id - first) % this.capacity]!)
    }
    return out
  }

  /** Resumes once something is appended or the stream is removed. */
  readonly wait: Effect.Effect<void> = Effect.callback<void>((resume) => {
    const waiter = () => resume(Effect.void)
    this.waiters.add(waiter)
    return Effect.sync(() => this.waiters.delete(waiter))
  })

  wake(): void {
    if (this.waiters.size === 0) return
    const waiting = [...this.waiters]
    this.waiters.clear()
    for (const waiter of waiting) waiter()
  }
}

/**
 * The `EventsExpired` of a read after `after` when the oldest kept entry is `oldest`.
 * @internal
 */
export const expiredAt = (after: number, oldest: number) =>
  new EventsExpired({
    after,
    oldest,
    message:
      `The events after id ${after} are no longer kept (the oldest kept is ${oldest}). ` +
      `Read the session's history, or resume from a newer id.`
  })

/**
 * The entries of `stream` after `after`, then the live ones; entries older than the memory holds
 * come from `older` (which fails when they are gone).
 * @internal
 */
export const subscribeTo = (
  made: Effect.Effect<MemoryStream>,
  after: number,
  older: (stream: MemoryStream, cursor: number) => Effect.Effect<ReadonlyArray<Entry>, EventsExpired>
): Stream.Stream<Entry, EventsExpired> =>
  Stream.fromPull(
    Effect.map(made, (stream) => {
      let cursor = after
      const emit = (entries: ReadonlyArray<Entry>) => {
        cursor = entries[entries.length - 1]!.id
        return Effect.succeed(entries as readonly [Entry, ...Array<Entry>])
      }
      const pull: Effect.Effect<readonly [Entry, ...Array<Entry>], EventsExpired | Cause.Done> = Effect.suspend(() => {
        const entries = stream.after(cursor)
        if (entries === undefined) {
          return Effect.flatMap(older(stream, cursor), (read) => (read.length > 0 ? emit(read) : Cause.done()))
        }
        if (entries.length > 0) return emit(entries)
        return stream.removed ? Cause.done() : Effect.andThen(stream.wait, pull)
      })
      return pull
    })
  )
