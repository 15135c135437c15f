/**
 * How the HTTP providers (`anthropic/service.ts`, `openai/service.ts`) send a request through
 * their SDK and read a streaming response: the SDK's own retries and timeouts off, the request
 * timeout on Effect's `Clock`, an interruption that aborts the request, and one turn's events
 * read by an {@link SseBody} that enforces the first-event and idle deadlines itself.
 *
 * Private to the providers: not re-exported from the package.
 * @internal
 */
import { Cause, Channel, Clock, Duration, Effect, type Exit, Scope, Stream } from "effect"
import { emptyPartial, type ProviderError, Timeout } from "../../core/HarnessError.js"
import type * as StreamEvent from "../../core/StreamEvent.js"
import * as PullDeadline from "../pullDeadline.js"
import type { SseBody } from "./sseBody.js"

/** The longest timer Node arms: the SDK's own timeout, which the harness replaces, is set to it. */
const maxTimerMillis = 2_147_483_647

/** The options of every SDK call: the SDK's retries and timeout off, the call's `signal`, extra headers. */
export interface SdkRequestOptions {
  signal: AbortSignal
  maxRetries: number
  timeout: number
  headers?: Readonly<Record<string, string>>
}

/**
 * The SDK request options of a service that sends `headers` with every request, built field by
 * field: conditional spreads are a runtime call each, for every request.
 */
export const requestOptions =
  (headers: Readonly<Record<string, string>> | undefined) =>
  (signal: AbortSignal): SdkRequestOptions => {
    const built: SdkRequestOptions = { signal, maxRetries: 0, timeout: maxTimerMillis }
    if (headers !== undefined) built.headers = headers
    return built
  }

/** The first-event and idle limits of a stream that enforces them itself, and its timeout error. */
export interface Deadlines<E> {
  readonly limits: PullDeadline.Limits
  readonly onTimeout: PullDeadline.OnTimeout<E>
}

/**
 * Runs an SDK call; what it throws becomes the provider's error (`toError`, given the time on
 * the `Clock`), and `Request.requestTimeout` (`limit`) bounds the wait for the response headers:
 * past it the call is aborted with a `Timeout` that names `label`.
 */
export const send = <A>(
  call: (signal: AbortSignal) => PromiseLike<A>,
  toError: (thrown: unknown, nowMillis: number) => ProviderError,
  label: string,
  limit: Duration.Duration | undefined
): Effect.Effect<A, ProviderError | Timeout> => {
  const sent = Effect.tryPromise({ try: call, catch: (thrown) => thrown }).pipe(
    Effect.catch((thrown) => Effect.flatMap(Clock.currentTimeMillis, (now) => Effect.fail(toError(thrown, now))))
  )
  if (limit === undefined) return sent
  return Effect.timeoutOrElse(sent, {
    duration: limit,
    orElse: () => {
      const limitMillis = Duration.toMillis(limit)
      return Effect.fail(
        new Timeout({
          phase: "request",
          limitMillis,
          message: `${label} sent no response headers within ${limitMillis} ms; the request was aborted. It can be retried, or raise \`requestTimeout\`.`,
          partial: emptyPartial
        })
      )
    }
  })
}

/**
 * `call` sent with `controller`'s signal, which the Effect's own abort (an interruption) also
 * aborts: the controller outlives the call, so the body reader can abort the response later.
 */
export const relayAbort =
  <A>(controller: AbortController, call: (signal: AbortSignal) => A) =>
  (signal: AbortSignal): A => {
    signal.addEventListener("abort", () => controller.abort(), { once: true })
    return call(controller.signal)
  }

/** Builds the reader of a response: its body, the request's controller, the `Clock`'s time, the deadlines. */
export type MakeReader<E> = (
  response: Response,
  controller: AbortController,
  now: () => number,
  watchdog: PullDeadline.Watchdog<E> | undefined
) => SseBody<E>

/**
 * One turn's events: `open` sends the request (aborted through the controller it is given) and
 * `makeReader` reads the response. With `deadlines`, the reader enforces the first-event and idle
 * limits itself (see `pullDeadline.ts`): the first-event limit runs from the first pull, over the
 * request and the response headers, to the first event.
 */
export const readResponse = <E, E1>(
  open: (controller: AbortController) => Effect.Effect<Response, E1>,
  makeReader: MakeReader<E>,
  deadlines: Deadlines<E> | undefined
): Stream.Stream<StreamEvent.ProviderEvent, ProviderError | E1 | E> =>
  Stream.fromChannel(
    Channel.fromTransform((_, scope) =>
      Effect.uninterruptibleMask((restore) => {
        const controller = new AbortController()
        let reader: SseBody<E> | undefined
        let watchdog: PullDeadline.Watchdog<E> | undefined
        /** The first-event limit passed before the response headers: the request is aborted. */
        let early: Exit.Exit<never, E> | undefined
        const read = Effect.flatMap(restore(open(controller)), (response) =>
          Effect.clockWith((clock) => {
            reader = makeReader(response, controller, () => clock.currentTimeMillisUnsafe(), watchdog)
            return early === undefined ? Effect.succeed(reader.pull) : early
          })
        ).pipe(
          Effect.catchCause((cause) =>
            early !== undefined && !Cause.hasInterrupts(cause) ? early : Effect.failCause(cause)
          )
        )
        const watched = (started: PullDeadline.Watchdog<E> | undefined) => {
          watchdog = started
          watchdog?.arm((timeout) => {
            early = timeout
            controller.abort()
          })
          return read
        }
        // One finalizer for the reader and the watchdog: Effect closes a scope of one finalizer
        // directly, and one of several through a generator (about 9 µs at the end of every turn).
        return Effect.andThen(
          Scope.addFinalizer(
            scope,
            Effect.sync(() => {
              try {
                reader?.close()
              } finally {
                watchdog?.stop()
              }
            })
          ),
          deadlines === undefined
            ? read
            : Effect.flatMap(PullDeadline.Watchdog.start(deadlines.limits, deadlines.onTimeout), watched)
        )
      })
    )
  )
