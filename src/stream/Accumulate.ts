/**
 * Accumulation over any event stream: a session's `askStream` / `runStream` (several turns, with
 * the harness's `tool_result` and `discard` events between them) or a provider's
 * `stream(request)` (one turn).
 *
 * | what | how | use it for |
 * | --- | --- | --- |
 * | {@link summary} | a `Sink`: `Stream.run(events, Accumulate.summary)` | the final text and blocks, stop reason, usage, duration, event count, time to first token and to first tool call |
 * | {@link snapshots} | a stream operator: `Accumulate.snapshots(events)` | after each event, the message so far with tool input parsed so far, the tool call being streamed, the partial `answer` |
 * | {@link text} | a stream operator | the text deltas as a `Stream<string>` |
 * | {@link onText} | a stream operator | a callback per text delta, the events passing on |
 *
 * Each turn is folded as `Provider.collect` folds it (the same fold), so a turn's last snapshot and
 * the summary's turns equal what `collect` returns. A `discard` drops the turn in progress (a
 * retry after partial output starts it over). A malformed sequence fails with `ProviderError`
 * (`InvalidResponse`), as `collect` does.
 *
 * Costs: the summary keeps the turns' content, never the events, so its memory grows with the
 * text and not with the number of deltas (bench/snapshots.ts: 1,000,000 deltas). A snapshot
 * costs O(1) per event plus a copy of the turn's list of blocks; its text and tool input are
 * built when read, at the cost of the text or JSON so far, so read them when you show them (e.g.
 * after `Stream.throttle`), not necessarily after every event.
 *
 * Times are read from Effect's `Clock` (so `TestClock` drives them), only at the start, at the
 * first token, at the first tool call and at the end.
 *
 * @example
 * ```ts
 * import { Console, Effect, Stream } from "effect"
 * import { Accumulate } from "data-harness"
 *
 * const program = Effect.gen(function*() {
 *   const summary = yield* session.askStream("Which region sells most?").pipe(
 *     Accumulate.onText((text) => Effect.sync(() => process.stdout.write(text))),
 *     Stream.run(Accumulate.summary)
 *   )
 *   yield* Console.log(`${summary.events} events in ${Duration.format(summary.duration)}`)
 * })
 * ```
 * @since 0.2.0
 */
import { Clock, Effect, Pull, Sink, Stream } from "effect"
import { dual } from "effect/Function"
import { ProviderError } from "../core/HarnessError.js"
import * as StreamEvent from "../core/StreamEvent.js"
import type { Snapshot } from "./snapshot.js"
import { SnapshotFold } from "./snapshotFold.js"
import { type Summary, SummaryFold } from "./summaryFold.js"

export type { MessageSnapshot, Snapshot, ToolCall } from "./snapshot.js"
export type { Summary } from "./summaryFold.js"

/**
 * A sink that folds a whole event stream into its {@link Summary}: the last turn's text, blocks
 * and stop reason, every completed turn, summed usage, the tool results, the event and delta
 * counts, the duration and the times to the first token and the first tool call, on Effect's
 * `Clock` from the moment the sink starts. Fails with `ProviderError` (`InvalidResponse`) when
 * the sequence is malformed or the stream ends in the middle of a turn.
 *
 * @example
 * ```ts
 * const summary = yield* Stream.run(session.askStream("Total revenue?"), Accumulate.summary)
 * summary.text              // the answer
 * summary.timeToFirstToken  // Option<Duration>
 * ```
 * @since 0.2.0
 */
export const summary: Sink.Sink<Summary, StreamEvent.StreamEvent, never, ProviderError> = Sink.fromTransform(
  (upstream) =>
    Clock.clockWith((clock) => {
      const fold = new SummaryFold(clock)
      return upstream.pipe(
        Effect.flatMap((events) => {
          const error = fold.applyAll(events)
          return error === undefined ? Effect.void : Effect.fail(error)
        }),
        Effect.forever({ disableYield: true }),
        Pull.catchDone(() => {
          const result = fold.end()
          return result instanceof ProviderError ? Effect.fail(result) : Effect.succeed([result] as const)
        })
      )
    })
)

/**
 * The stream of {@link Snapshot}s of an event stream: one after each event, each an immutable
 * value of the run so far (keep any of them, they do not change). `message` is the turn in
 * progress with text so far and tool input parsed so far (cut-short JSON completed the way the
 * Anthropic SDK's `MessageStream` completes it); `toolCall` the call being streamed (`id`,
 * `name`, `json` and `input` so far); `answer` the latest call of the `answer` tool; `toolCalls`
 * every call with its `tool_result` attached. A `discard` clears the turn in progress.
 *
 * A snapshot costs O(1) plus a copy of the turn's list of blocks when it is made; text and input
 * are built when first read (O(text or JSON so far)). A malformed sequence fails the stream with
 * `ProviderError` after the snapshots of the events before it.
 *
 * @example
 * ```ts
 * yield* session.askStream("Top region?").pipe(
 *   Accumulate.snapshots,
 *   Stream.runForEach((snapshot) =>
 *     Effect.sync(() => {
 *       if (snapshot.toolCall) console.log(`-> ${snapshot.toolCall.name} ${snapshot.toolCall.json}`)
 *     })
 *   )
 * )
 * ```
 * @since 0.2.0
 */
export const snapshots = <E, R>(
  events: Stream.Stream<StreamEvent.StreamEvent, E, R>
): Stream.Stream<Snapshot, E | ProviderError, R> =>
  Stream.transformPull(events, (pull) =>
    Effect.sync(() => {
      const fold = new SnapshotFold("provider")
      let failure: ProviderError | undefined
      return Effect.suspend(() => {
        if (failure !== undefined) return Effect.fail(failure)
        return Effect.flatMap(pull, (chunk) => {
          const out: Array<Snapshot> = []
          for (const event of chunk) {
            const snapshot = fold.apply(event)
            if (snapshot instanceof ProviderError) {
              // the snapshots before the error first, then the error on the next pull
              if (out.length === 0) return Effect.fail(snapshot)
              failure = snapshot
              break
            }
            out.push(snapshot)
          }
          return Effect.succeed(out as unknown as readonly [Snapshot, ...Array<Snapshot>])
        })
      })
    })
  )

/**
 * The text of an event stream as it arrives: the `text_delta`s, as strings. A retried turn's
 * text (after a `discard`) arrives again; use {@link snapshots} where that matters.
 *
 * @example
 * ```ts
 * yield* session.askStream("hi").pipe(Accumulate.text, Stream.runForEach(Console.log))
 * ```
 * @since 0.2.0
 */
export const text = <E, R>(events: Stream.Stream<StreamEvent.StreamEvent, E, R>): Stream.Stream<string, E, R> =>
  Stream.filterMap(events, StreamEvent.textDelta)

/**
 * Calls `f` with each text delta (an `onChunk` callback) and passes every event on, so the stream
 * can still be summarised, snapshotted or shown.
 *
 * @example
 * ```ts
 * const summary = yield* agent.runStream("hi").pipe(
 *   Accumulate.onText((text) => Effect.sync(() => process.stdout.write(text))),
 *   Stream.run(Accumulate.summary)
 * )
 * ```
 * @since 0.2.0
 */
export const onText: {
  <X, E2, R2>(
    f: (text: string) => Effect.Effect<X, E2, R2>
  ): <E, R>(
    events: Stream.Stream<StreamEvent.StreamEvent, E, R>
  ) => Stream.Stream<StreamEvent.StreamEvent, E | E2, R | R2>
  <E, R, X, E2, R2>(
    events: Stream.Stream<StreamEvent.StreamEvent, E, R>,
    f: (text: string) => Effect.Effect<X, E2, R2>
  ): Stream.Stream<StreamEvent.StreamEvent, E | E2, R | R2>
} = dual(
  2,
  <E, R, X, E2, R2>(
    events: Stream.Stream<StreamEvent.StreamEvent, E, R>,
    f: (text: string) => Effect.Effect<X, E2, R2>
  ): Stream.Stream<StreamEvent.StreamEvent, E | E2, R | R2> =>
    Stream.tap(events, (event) =>
      event.type === "content_block_delta" && event.delta.type === "text_delta"
        ? f((event.delta as typeof StreamEvent.TextDelta.Type).text)
        : Effect.void
    )
)
