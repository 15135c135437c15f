/**
 * Effects and streams run on an agent's runtime for Promise callers: a Promise that an
 * `AbortSignal` interrupts, and an async iterable that a `break` (its `return()`) or an
 * `AbortSignal` interrupts. Either way the run is interrupted exactly as a fiber interruption
 * does it (the HTTP request aborted, every finaliser run, the session's history repaired) before
 * the promise settles or `return()` resolves.
 *
 * @internal
 */
import { Cause, Channel, Effect, Exit, Fiber, type ManagedRuntime, Pull, Scope, Stream } from "effect"
import type { Provider } from "../provider/Provider.js"

/** What an agent's runtime runs effects with: its provider. */
export type Runtime = ManagedRuntime.ManagedRuntime<Provider, unknown>

/** Why the signal aborted, as the platform reports it (a `DOMException` named `AbortError` by default). */
const abortReason = (signal: AbortSignal): unknown => signal.reason ?? new Error("The operation was aborted.")

/**
 * The error a failed run rejects with: the typed error itself (an `Error` with `_tag` and
 * `isRetryable`), or a defect as it was thrown.
 */
const errorOf = (cause: Cause.Cause<unknown>): unknown => Cause.squash(cause)

/**
 * Runs `effect` on `runtime`; `signal` interrupts it, and the promise then rejects with the
 * signal's reason once the run has been cleaned up.
 * @internal
 */
export const runPromise = <A, E>(
  runtime: Runtime,
  effect: Effect.Effect<A, E, Provider>,
  signal: AbortSignal | undefined
): Promise<A> => {
  if (signal?.aborted) return Promise.reject(abortReason(signal))
  return runtime.runPromiseExit(effect, signal === undefined ? undefined : { signal }).then((exit) => {
    if (Exit.isSuccess(exit)) return exit.value
    if (signal?.aborted && Cause.hasInterrupts(exit.cause)) throw abortReason(signal)
    throw errorOf(exit.cause)
  })
}

/**
 * A stream as an async iterable on `runtime`: each iteration runs it once. `return()` (a `break`
 * out of `for await`) and `signal` interrupt the pull in progress and close the stream's scope;
 * after an abort the iteration throws the signal's reason. `track` is told of every open
 * iteration, so that closing the agent can end them.
 * @internal
 */
export const iterate = <A, E>(
  runtime: Runtime,
  stream: Stream.Stream<A, E, Provider>,
  signal: AbortSignal | undefined,
  track: (close: () => Promise<void>) => () => void
): AsyncIterable<A> => ({
  [Symbol.asyncIterator](): AsyncIterator<A> {
    const scope = Scope.makeUnsafe()
    let pull: Pull.Pull<ReadonlyArray<A>, E, void, Provider> | undefined
    let buffer: Iterator<A> | undefined
    let running: Fiber.Fiber<ReadonlyArray<A>, unknown> | undefined
    let closing: Promise<void> | undefined
    const finished = (): IteratorResult<A> => ({ done: true, value: undefined })

    const close = (exit: Exit.Exit<unknown, unknown>): Promise<void> => {
      if (closing !== undefined) return closing
      const fiber = running
      closing = runtime
        .runPromise(
          Effect.andThen(fiber === undefined ? Effect.void : Fiber.interrupt(fiber), Scope.close(scope, exit))
        )
        .finally(() => {
          signal?.removeEventListener("abort", onAbort)
          untrack()
        })
      return closing
    }
    const onAbort = () => {
      void close(Exit.void).catch(() => undefined)
    }
    const untrack = track(() => close(Exit.void))
    signal?.addEventListener("abort", onAbort, { once: true })

    /** After the iteration was closed: done, or the abort's reason. */
    const afterClose = async (): Promise<IteratorResult<A>> => {
      await closing
      if (signal?.aborted) throw abortReason(signal)
      return finished()
    }

    return {
      async next(): Promise<IteratorResult<A>> {
        if (signal?.aborted) {
          await close(Exit.void)
          throw abortReason(signal)
        }
        if (closing !== undefined) return afterClose()
        const buffered = buffer?.next()
        if (buffered !== undefined && !buffered.done) return buffered
        buffer = undefined
        const fiber = runtime.runFork(
          pull ??
            Effect.flatMap(Channel.toPullScoped(Stream.toChannel(stream), scope), (opened) => {
              pull = opened
              return opened
            })
        )
        running = fiber
        const exit = await runtime.runPromise(Fiber.await(fiber))
        if (running === fiber) running = undefined
        if (Exit.isSuccess(exit)) {
          buffer = exit.value[Symbol.iterator]()
          return buffer.next()
        }
        if (closing !== undefined) return afterClose()
        if (Pull.isDoneCause(exit.cause)) {
          await close(Exit.void)
          return finished()
        }
        await close(exit).catch(() => undefined)
        throw errorOf(exit.cause)
      },
      async return(): Promise<IteratorResult<A>> {
        await close(Exit.void)
        return finished()
      }
    }
  }
})
