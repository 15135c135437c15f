/**
 * The state of one ask, in one value: where the ask is (its {@link Phase}) and what it has
 * counted and decided so far. The loop (`loop.ts`) reads and writes it; the session's own state
 * (history, usage, visible tools, data) lives in `Ref`s beside it (`sessionState.ts`). {@link Ask}
 * is both, with the agent's configuration: what every step of the loop takes.
 *
 * @internal
 */
import { Duration, Effect, type Pull, type Scope } from "effect"
import type * as Arr from "effect/Array"
import type { AskControl } from "../control/askControl.js"
import type { HarnessError } from "../core/HarnessError.js"
import { type Partial, ProviderError, Timeout, type TimeoutPhase } from "../core/HarnessError.js"
import * as Message from "../core/Message.js"
import { RunResult, type TurnModel } from "../core/RunResult.js"
import type * as StreamEvent from "../core/StreamEvent.js"
import { TurnAccumulator, type TurnResult } from "../core/TurnAccumulator.js"
import * as Usage from "../core/Usage.js"
import type { AskTrace } from "../telemetry/trace.js"
import type { Config } from "./config.js"
import type { SessionState } from "./sessionState.js"
import type { ToolEnv } from "./toolCalls.js"

/** A non-empty chunk of events, what one pull of the ask emits. */
export type Events = Arr.NonEmptyReadonlyArray<StreamEvent.StreamEvent>

/** What the ask does on a pull: emit events, or fail, or end (`Cause.Done`). */
export type Step = Pull.Pull<Events, HarnessError>

/**
 * Where the ask is; `next` is what the consumer's next pull runs.
 *
 * - `Starting`: a model turn starts at the next pull (after the prompt, after tool results, or
 *   after events emitted between two steps).
 * - `Model`: attempt `attempt` of a model turn streams: each pull reads the provider's next chunk
 *   and folds it into `turn`. Once the turn's `message_stop` is folded it is `committed` to the
 *   history; the provider's stream is then read to its end.
 * - `Backoff`: a retryable failure; the next pull waits the retry delay, then starts a new attempt.
 * - `Tools`: the turn's tool calls run; each pull emits the next `tool_result`.
 * - `Ended`: the ask is over: every later pull ends it (`Cause.Done`) or fails it the same way.
 */
export type Phase =
  | { readonly _tag: "Starting"; readonly next: Step }
  | {
      readonly _tag: "Model"
      readonly attempt: number
      readonly turn: TurnAccumulator
      readonly scope: Scope.Closeable
      committed: boolean
      next: Step
    }
  | { readonly _tag: "Backoff"; readonly next: Step }
  | { readonly _tag: "Tools"; readonly scope: Scope.Closeable; next: Step }
  | { readonly _tag: "Ended"; readonly next: Step }

const notBegun: Phase = { _tag: "Ended", next: Effect.die("the ask has not begun") }

/** How the run ended, once it has: its `RunResult` is built only when somebody reads it. */
export interface Ending {
  readonly status: RunResult["status"]
  readonly response: TurnResult
}

/**
 * The state of one ask. Mutable (it changes at every turn, on the per-event path), and owned by
 * the ask's one stream: nothing else reads it.
 */
export class AskState {
  /** Set by the loop when the ask is made: its first model turn. */
  phase: Phase = notBegun
  turns = 0
  attempts = 0
  /** The usage of the attempts that ended (committed, retried or given up). */
  usage: Usage.Usage = Usage.empty
  /** What the model passed to the `answer` tool. */
  answer: { readonly value: unknown; readonly sources?: ReadonlyArray<string> } | undefined = undefined
  /** Typed answers refused (invalid, or missing at the end) so far in this ask. */
  answerRefusals = 0
  /** The model turn attempt in progress, not yet committed (what a partial turn keeps). */
  turn: TurnAccumulator | undefined = undefined
  /** The last committed turn. */
  response: TurnResult | undefined = undefined
  /** Who answered each committed turn. */
  readonly answeredBy: Array<TurnModel> = []
  /** Tool calls committed in an assistant message whose results are not yet committed. */
  pending: ReadonlyArray<Message.ToolUseBlock> | undefined = undefined
  readonly results = new Map<string, Message.ToolResultBlock>()
  /** The ids of `results` already committed (a turn with a paused call commits them as they come). */
  readonly committed = new Set<string>()
  /** Whether a call of the turn's tools paused for approval. */
  paused = false
  /** When the turn in progress must end (its `turn` timeout), on the monotonic clock. */
  turnDeadline: number | undefined = undefined
  /** The turn's retry schedule, made at its first retryable failure. */
  retryStep: ((now: number, input: unknown) => Effect.Effect<[unknown, Duration.Duration], unknown>) | undefined =
    undefined
  ending: Ending | undefined = undefined
  /** Hooks, costs, budgets and compaction of the ask; set when the ask is made. */
  control!: AskControl

  /** The run's result; call it once the run has ended. */
  result(): RunResult {
    const { status, response } = this.ending!
    return new RunResult({
      text: Message.textOf(response.content),
      status,
      turns: this.turns,
      attempts: this.attempts,
      stopReason: response.stopReason,
      usage: this.usage,
      answeredBy: [...this.answeredBy],
      cost: this.control.cost,
      turnCosts: [...this.control.turnCosts],
      ...(this.answer !== undefined ? { value: this.answer.value } : {}),
      ...(this.answer?.sources !== undefined ? { sources: this.answer.sources } : {})
    })
  }

  /** The partial output of the turn in progress, with the usage of the run so far. */
  partial(): Partial {
    return (this.turn ?? new TurnAccumulator("provider")).partial(this.usage)
  }
}

/** `error` with the ask's partial output, when it is an error that carries one. */
export const withPartial = (error: unknown, partial: Partial): unknown =>
  error instanceof ProviderError || error instanceof Timeout ? error.withPartial(partial) : error

/**
 * What a turn that did not finish keeps in the history (`partialTurn: "keep"`): its text blocks
 * as received so far (the history rules then drop those that are empty or whitespace-only);
 * thinking, tool calls and server blocks of an unfinished turn are not kept.
 */
export const keptOfPartial = (turn: TurnAccumulator): ReadonlyArray<Message.ContentBlock> =>
  turn.partial(Usage.empty).content.filter((block) => block.type === "text")

/**
 * How an ask is run besides its prompt.
 * @internal
 */
export interface AskOptions {
  /** Run before the ask starts, in its scope (a session's turn: its permit is released at the end). */
  readonly acquire?: Effect.Effect<void, never, Scope.Scope> | undefined
  /** Fail the stream with this after the last event when the run hits maxTurns. */
  readonly onMaxTurns?: ((result: RunResult) => HarnessError) | undefined
  /** Receives the run's result when it completes. */
  readonly onResult?: ((result: RunResult) => void) | undefined
}

/** Everything a step of the loop reads: the agent's config, the session, the ask's state and its clocks. */
export interface Ask {
  readonly config: Config
  readonly session: SessionState
  readonly state: AskState
  readonly options: AskOptions | undefined
  /** The ask's stream's scope: attempts and tool runs fork theirs from it. */
  readonly scope: Scope.Scope
  /** Monotonic milliseconds: turn deadlines must not move with the wall clock. */
  readonly now: () => number
  /** Wall-clock milliseconds, for the retry schedule. */
  readonly wallNow: () => number
  /** What the ask reports to telemetry (nothing, unless a tracing backend is installed). */
  readonly trace: AskTrace
  readonly tools: ToolEnv
}

/** The ask ends with `last`: this pull and every later one run it. */
export const end = (ask: Ask, last: Step): Step => {
  ask.state.phase = { _tag: "Ended", next: last }
  return last
}

/** Emits `events` now; the next pull runs `then`. */
export const emit = (ask: Ask, events: ReadonlyArray<StreamEvent.StreamEvent>, then: Phase): Step => {
  ask.state.phase = then
  return events.length === 0 ? then.next : Effect.succeed(events as Events)
}

/** The `Timeout` of `phase`, with the ask's partial output as it is now. */
export const timeoutError = (phase: TimeoutPhase, limit: Duration.Duration, state: AskState, what: string) =>
  new Timeout({
    phase,
    limitMillis: Duration.toMillis(limit),
    partial: state.partial(),
    message:
      `${what} took longer than ${Duration.format(limit)} (the ${phase} timeout). ` +
      `The partial output is on this error; raise timeouts.${phase} if this is expected.`
  })
