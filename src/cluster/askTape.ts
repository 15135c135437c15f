/**
 * The chunks of an ask the entity runs, kept while it runs so that other callers can follow it
 * (`Events`, or an `Ask` with the id of an ask that runs without its caller): every chunk so far,
 * then the live ones, then its end. Dropped with the ask's `Running` once it ended and nobody
 * follows it; an ended ask is read from the store instead.
 * @internal
 */
import { Deferred, Effect, Exit, Option, Stream } from "effect"
import type * as SessionEntity from "./SessionEntity.js"

/**
 * A growing list of an ask's chunks and, once it ended, how.
 * @internal
 */
export class AskTape {
  private readonly chunks: Array<SessionEntity.AskChunk> = []
  private end: Exit.Exit<void, SessionEntity.AskError> | undefined = undefined
  /** Completed (and replaced) at each change. */
  private changed = Deferred.makeUnsafe<void>()

  /** Whether the ask ended. */
  get ended(): boolean {
    return this.end !== undefined
  }

  /** Adds a chunk. */
  push(chunk: SessionEntity.AskChunk): void {
    this.chunks.push(chunk)
    this.wake()
  }

  /** Records the ask's end (once; later ends are ignored). */
  close(exit: Exit.Exit<void, SessionEntity.AskError>): void {
    if (this.end !== undefined) return
    this.end = exit
    this.wake()
  }

  private wake(): void {
    const changed = this.changed
    this.changed = Deferred.makeUnsafe<void>()
    Deferred.doneUnsafe(changed, Exit.void)
  }

  /** Every chunk from the first, then the live ones, then the end (a failed ask fails the stream). */
  get follow(): Stream.Stream<SessionEntity.AskChunk, SessionEntity.AskError> {
    return Stream.paginate(0, (index: number) =>
      Effect.suspend(
        (): Effect.Effect<
          readonly [ReadonlyArray<SessionEntity.AskChunk>, Option.Option<number>],
          SessionEntity.AskError
        > => {
          if (index < this.chunks.length) {
            return Effect.succeed([this.chunks.slice(index), Option.some(this.chunks.length)] as const)
          }
          const end = this.end
          if (end !== undefined) {
            return Exit.isSuccess(end) ? Effect.succeed([[], Option.none()] as const) : Effect.failCause(end.cause)
          }
          return Effect.as(Deferred.await(this.changed), [[], Option.some(index)] as const)
        }
      )
    )
  }
}
