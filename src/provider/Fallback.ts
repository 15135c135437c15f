/**
 * Fallback chains: one provider made of several, tried in order. `Provider.fallback` and
 * `Provider.layerFallback` are the public names (re-exported by `Provider.ts`).
 *
 * A turn goes to the first provider; when it fails with an error the policy names (by default
 * overloaded, rate limited, server error, connection, and the request / first-event / idle
 * timeouts), the same request goes to the next one, and so on; the last error is the chain's.
 *
 * - **Before any output** the switch is invisible: the consumer sees the answering provider's
 *   events only.
 * - **After output** the chain's stream emits a `discard` event (`attempt`: the chain's attempt
 *   that is dropped, `reason`: its error's message), then the next provider's events from a fresh
 *   `message_start`. The agent's fold and `Provider.collect` start the turn over on it (the dropped
 *   attempt's usage stays counted) and the agent passes it on, as it does its own retry's.
 * - Every turn's `message_start` names the provider that streams it (`message.provider`), so
 *   `RunResult.answeredBy` says who answered each turn.
 * - **Every turn starts at the first provider.** A chain is stateless: the next turn (and the
 *   agent's retry of a failed one) tries the primary again. An overloaded or rate-limited primary
 *   answers a 529 or 429 at once, so this costs a round trip, and the preferred model comes back
 *   as soon as it can.
 * - **Retries.** By default a named error moves on at once: the point of a fallback is an answer
 *   now, not after a backoff. The agent's own retry `Schedule` wraps the whole chain: when every
 *   provider failed with a retryable error it waits, then runs the chain again from the first.
 *   A member given as `{ provider, attempts, schedule }` is first retried on its own (`attempts`
 *   in all, spaced by `schedule`; a `schedule` alone runs until it ends) for the failures the
 *   policy names; `retry-after` is honoured only by the agent's schedule.
 * - **Deadlines.** The agent's first-event and idle limits apply to each provider's stream on its
 *   own, so a primary that hangs times out and the chain moves on (a `Timeout` the policy names).
 *
 * **Why not effect's `ExecutionPlan`**, which has these steps (ordered, each providing a service,
 * with `attempts`, `schedule` and a `while`): `Stream.withExecutionPlan` provides the step's
 * context and the attempt's metadata around every pull of the stream (two `Context` merges per
 * chunk), which made a turn through a chain cost about 3 times the provider's own per-chunk cost
 * under the agent (`scratchpad/fallback-overhead.ts`; figures in the README's "Fallback chains").
 * Besides, it rebuilds a step's Layer for every attempt, has no signal for partial output, and a
 * later step's `schedule` also delays the switch into it. The chain here is its attempts joined
 * by `Stream.catch` (nothing per pull), the policy deciding at each failure.
 *
 * History written by one provider must be valid for the next, so every request a chain sends is
 * made portable first (the input is not mutated; a history that needs nothing is sent as it is):
 * - a `thinking` block without a signature (what OpenAI-compatible servers' reasoning becomes) is
 *   dropped: Anthropic refuses it, and the OpenAI-compatible presets do not send thinking back;
 *   an assistant message left empty is dropped (the user messages around it are merged);
 * - a tool id outside `[a-zA-Z0-9_-]` (Anthropic's pattern; some servers send ids like
 *   `functions.sql:0`) is rewritten the same way in its `tool_use` and its `tool_result`: the
 *   characters replaced by `_`, plus a hash of the original so two ids stay two.
 * A signed thinking block or `redacted_thinking` written by another vendor's model (OpenRouter's
 * reasoning details) cannot be told from Anthropic's own and is sent as it is.
 *
 * Per-call request fields (`model`, `thinking`, `topK`, ...) go to every member as they are: set
 * each member's model on its own layer.
 * @internal
 */
import { Effect, Pull, Schedule, Stream } from "effect"
import type * as Arr from "effect/Array"
import { InvalidOptions, ProviderError, ProviderErrorReason, Timeout } from "../core/HarnessError.js"
import type { NormalizedResponse } from "../core/NormalizedResponse.js"
import type * as StreamEvent from "../core/StreamEvent.js"
import { portable } from "./portableHistory.js"
import { enforcingDeadlines, type Limits, type OnTimeout, withPullDeadlines } from "./pullDeadline.js"
import type * as Provider from "./service.js"

// options

/**
 * A failure a fallback policy can name: a `ProviderError` reason, or `"Timeout"` (the request,
 * first-event and idle timeouts of one provider's call).
 * @since 0.2.0
 */
export type FallbackReason = ProviderErrorReason | "Timeout"

/**
 * When a chain moves on: the failures it names, or a predicate over the failure.
 * @since 0.2.0
 */
export type FallbackPolicy = ReadonlyArray<FallbackReason> | ((error: Provider.ProviderFailure) => boolean)

/**
 * The failures a chain moves on after by default: the retryable ones.
 * @since 0.2.0
 */
export const defaultFallbackOn: ReadonlyArray<FallbackReason> = [
  "Overloaded",
  "RateLimited",
  "ServerError",
  "Connection",
  "Timeout"
]

/**
 * A member of a chain with retries of its own before the chain moves on: `attempts` in all
 * (default 1), spaced by `schedule` (default: none).
 * @since 0.2.0
 */
export interface FallbackMember {
  readonly provider: Provider.Service
  readonly attempts?: number | undefined
  readonly schedule?: Schedule.Schedule<unknown, Provider.ProviderFailure> | undefined
}

/**
 * Options of `Provider.fallback` and `Provider.layerFallback`.
 * @since 0.2.0
 */
export interface FallbackOptions {
  /** Which failures move on to the next provider (default {@link defaultFallbackOn}). */
  readonly on?: FallbackPolicy | undefined
  /** The chain's `Provider.Info.name` (default `fallback(<member names>)`). */
  readonly name?: string | undefined
}

/** Every reason a policy may name: the `ProviderError` reasons, then `Timeout`. */
const reasons: ReadonlySet<string> = new Set<FallbackReason>([...ProviderErrorReason.literals, "Timeout"])

/** The member as a step: a bare service is one attempt. */
const stepOf = (member: Provider.Service | FallbackMember): FallbackMember =>
  "provider" in member ? member : { provider: member }

/**
 * Checks a chain's members and options: at least one member, whole `attempts` of at least 1,
 * known reasons. The `InvalidOptions` names the first bad one.
 * @internal
 */
export const check = (
  members: ReadonlyArray<Provider.Service | FallbackMember>,
  options: FallbackOptions | undefined
): InvalidOptions | undefined => {
  if (!Array.isArray(members) || members.length === 0) {
    return new InvalidOptions({ option: "fallback", message: "A fallback chain needs at least one provider." })
  }
  for (let i = 0; i < members.length; i++) {
    const member = members[i]
    if (typeof member !== "object" || member === null) {
      return new InvalidOptions({
        option: `fallback[${i}]`,
        message: `fallback[${i}] must be a provider service or { provider, attempts, schedule }.`
      })
    }
    const attempts = stepOf(member).attempts
    if (attempts !== undefined && !(Number.isInteger(attempts) && attempts >= 1)) {
      return new InvalidOptions({
        option: `fallback[${i}].attempts`,
        message: `fallback[${i}].attempts must be a whole number of at least 1, not ${String(attempts)}.`
      })
    }
  }
  const on = options?.on
  if (on !== undefined && typeof on !== "function") {
    const bad = Array.isArray(on) ? on.find((reason) => !reasons.has(reason)) : on
    if (!Array.isArray(on) || bad !== undefined) {
      return new InvalidOptions({
        option: "fallback.on",
        message: `fallback.on must be a predicate or a list of failures (${[...reasons].join(", ")}); ${JSON.stringify(bad)} is not one.`
      })
    }
  }
  return undefined
}

/** The policy as a predicate over whatever an attempt failed with. */
const policyOf = (on: FallbackPolicy | undefined): ((error: unknown) => boolean) => {
  if (typeof on === "function") {
    return (error) =>
      error instanceof ProviderError || error instanceof Timeout || error instanceof InvalidOptions ? on(error) : false
  }
  const named = new Set(on ?? defaultFallbackOn)
  return (error) =>
    error instanceof ProviderError ? named.has(error.reason) : error instanceof Timeout && named.has("Timeout")
}

// the chain

/** A member as the chain runs it: its service, how many attempts it gets, their spacing. */
interface Step {
  readonly provider: Provider.Service
  readonly attempts: number
  readonly schedule: Schedule.Schedule<unknown, Provider.ProviderFailure> | undefined
}

/** The member as a step: a bare service is one attempt; a schedule without `attempts` runs until it ends. */
const toStep = (member: Provider.Service | FallbackMember): Step => {
  const { provider, attempts, schedule } = stepOf(member)
  return { provider, attempts: attempts ?? (schedule === undefined ? 1 : Number.POSITIVE_INFINITY), schedule }
}

/** Where a run of the chain is: which member, which of its attempts, and its schedule once made. */
interface Position {
  readonly index: number
  readonly stepAttempt: number
  readonly sleep: ((error: unknown) => Pull.Pull<unknown, unknown, unknown>) | undefined
}

const first: Position = { index: 0, stepAttempt: 1, sleep: undefined }

/**
 * Where the chain goes after `error` at `at`: the same member again (after its schedule's
 * delay), the next one, or nowhere (`undefined`: the chain fails with `error`).
 */
const nextPosition = (
  steps: ReadonlyArray<Step>,
  policy: (error: unknown) => boolean,
  at: Position,
  error: unknown
): Effect.Effect<Position | undefined, unknown> => {
  if (!policy(error)) return Effect.undefined
  const moveOn = at.index + 1 < steps.length ? { index: at.index + 1, stepAttempt: 1, sleep: undefined } : undefined
  const step = steps[at.index]!
  if (at.stepAttempt >= step.attempts) return Effect.succeed(moveOn)
  const again = (sleep: Position["sleep"]): Position => ({ index: at.index, stepAttempt: at.stepAttempt + 1, sleep })
  if (step.schedule === undefined) return Effect.succeed(again(undefined))
  const made: Effect.Effect<NonNullable<Position["sleep"]>> =
    at.sleep !== undefined
      ? Effect.succeed(at.sleep)
      : (Schedule.toStepWithSleep(step.schedule) as Effect.Effect<NonNullable<Position["sleep"]>>)
  return Effect.flatMap(made, (sleep) =>
    Effect.matchCauseEffect(sleep(error), {
      onSuccess: () => Effect.succeed(again(sleep)),
      // the member's schedule is done: the next member
      onFailure: (cause) => (Pull.isDoneCause(cause) ? Effect.succeed(moveOn) : Effect.failCause(cause))
    })
  )
}

/** The deadlines the agent gave the chain's stream, passed on to each member's. */
interface Deadlines {
  readonly limits: Limits
  readonly onTimeout: OnTimeout<unknown>
}

type Events = Arr.NonEmptyReadonlyArray<StreamEvent.ProviderEvent>

/** The error's message, for a `discard`'s `reason`. */
const reasonOf = (error: unknown): string =>
  typeof error === "object" && error !== null && typeof (error as { message?: unknown }).message === "string"
    ? (error as { message: string }).message
    : String(error)

/**
 * One run of a chain's stream: its attempts one after the other, each caught by the next; it
 * knows whether the attempt in progress has emitted and how the last one failed, so the next one
 * starts with `discard` after output.
 */
class ChainRun {
  private attempt = 0
  private emitted = false
  private failure: unknown = undefined

  constructor(
    private readonly steps: ReadonlyArray<Step>,
    private readonly policy: (error: unknown) => boolean,
    private readonly request: Provider.Request,
    private readonly cache: boolean,
    private readonly deadlines: Deadlines | undefined
  ) {}

  /** The attempt at `at`, and after its failure the next one (or the failure). */
  from(at: Position): Stream.Stream<StreamEvent.ProviderEvent, unknown> {
    return Stream.catch(
      Stream.suspend(() => this.open(this.steps[at.index]!.provider)),
      (error) => {
        this.failure = error
        return Stream.unwrap(
          Effect.map(nextPosition(this.steps, this.policy, at, error), (next) =>
            next === undefined ? Stream.fail(error) : this.from(next)
          )
        )
      }
    )
  }

  /** The stream of the next attempt on `member`: `discard` first when the one before had emitted. */
  private open(member: Provider.Service): Stream.Stream<StreamEvent.ProviderEvent, unknown> {
    const attempt = ++this.attempt
    const discard: StreamEvent.Discard | undefined = this.emitted
      ? { type: "discard", attempt: attempt - 1, reason: reasonOf(this.failure) }
      : undefined
    this.emitted = false
    const request = this.cache ? member.formatCacheControl(this.request) : this.request
    let events: Stream.Stream<StreamEvent.ProviderEvent, unknown> = member.stream(request)
    if (this.deadlines !== undefined) {
      events = withPullDeadlines(events, this.deadlines.limits, this.deadlines.onTimeout)
    }
    const name = member.info.name
    let first = true
    events = events.pipe(
      Stream.mapArray((chunk: Events): Events => {
        this.emitted = true
        if (!first) return chunk
        first = false
        return named(chunk, name)
      })
    )
    return discard === undefined ? events : Stream.concat(Stream.succeed(discard), events)
  }
}

/** The chunk with its `message_start` naming `provider` (unless a nested chain already did). */
const named = (chunk: Events, provider: string): Events => {
  const index = chunk.findIndex((event) => event.type === "message_start")
  if (index === -1) return chunk
  const start = chunk[index] as StreamEvent.MessageStart
  if (start.message.provider !== undefined) return chunk
  const out = chunk.slice() as unknown as Array<StreamEvent.ProviderEvent>
  out[index] = { ...start, message: { ...start.message, provider } }
  return out as unknown as Events
}

/** `chat` at `at`, and after its failure the next attempt (or the failure). */
const chatFrom = (
  steps: ReadonlyArray<Step>,
  policy: (error: unknown) => boolean,
  request: Provider.Request,
  cache: boolean,
  at: Position
): Effect.Effect<NormalizedResponse, Provider.ProviderFailure> => {
  const member = steps[at.index]!.provider
  return Effect.catch(member.chat(cache ? member.formatCacheControl(request) : request), (error) =>
    Effect.flatMap(
      nextPosition(steps, policy, at, error) as Effect.Effect<Position | undefined, Provider.ProviderFailure>,
      (next) => (next === undefined ? Effect.fail(error) : chatFrom(steps, policy, request, cache, next))
    )
  )
}

/**
 * A provider that tries `members` in order (see the module's documentation). Members are built
 * services; `Provider.layerFallback` builds them from layers. Invalid members or options make a
 * provider whose every call fails with the `InvalidOptions` that says what is wrong
 * (`layerFallback` fails to build instead).
 *
 * @example
 * ```ts
 * const chain = Provider.fallback([anthropic, openai], { on: ["Overloaded", "RateLimited"] })
 * ```
 * @since 0.2.0
 */
export const make = (
  members: Arr.NonEmptyReadonlyArray<Provider.Service | FallbackMember>,
  options?: FallbackOptions
): Provider.Service => {
  const invalid = check(members, options)
  const steps = invalid === undefined ? members.map(toStep) : []
  const services = steps.map((step) => step.provider)
  const info: Provider.Info = {
    name: options?.name ?? `fallback(${services.map((service) => service.info.name).join(", ")})`,
    model: services[0]?.info.model ?? "unknown",
    supportsStreaming: services.length > 0 && services.every((service) => service.info.supportsStreaming)
  }
  if (invalid !== undefined) {
    return {
      info,
      chat: () => Effect.fail(invalid),
      stream: () => Stream.fail(invalid),
      formatCacheControl: (request) => request
    }
  }
  const policy = policyOf(options?.on)
  /** Requests the agent marked for caching: each member marks them its own way. */
  const marked = new WeakSet<Provider.Request>()

  const chain = (request: Provider.Request, deadlines: Deadlines | undefined) =>
    Stream.suspend(() =>
      new ChainRun(steps, policy, portable(request), marked.has(request), deadlines).from(first)
    ) as Stream.Stream<StreamEvent.ProviderEvent, Provider.ProviderFailure>

  return {
    info,
    chat: (request) => Effect.suspend(() => chatFrom(steps, policy, portable(request), marked.has(request), first)),
    stream: (request) =>
      enforcingDeadlines(chain(request, undefined), (limits, onTimeout) =>
        chain(request, { limits, onTimeout: onTimeout as OnTimeout<unknown> })
      ),
    formatCacheControl: (request) => {
      const copy = { ...request }
      marked.add(copy)
      return copy
    }
  }
}
