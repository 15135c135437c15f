/**
 * The outcome of one ask: the final text, how the run ended, and what it cost.
 * @since 0.1.0
 */
import { Effect, Schema } from "effect"
import { Cost } from "./Cost.js"
import { AnyStopReason } from "./NormalizedResponse.js"
import { Usage } from "./Usage.js"

/**
 * How a run ended: the model finished (`completed`), or it still wanted tools after the last
 * allowed turn (`max_turns`).
 * @since 0.1.0
 */
export const Status = Schema.Literals(["completed", "max_turns"])
/** @since 0.1.0 */
export type Status = typeof Status.Type

/**
 * Who answered one model turn: the provider's name (`Provider.Info.name`; in a fallback chain the
 * member that answered, e.g. `"openai"` after `"anthropic"` was overloaded) and the model the
 * response named (its `message_start`), e.g. `"claude-sonnet-4-6"`.
 * @since 0.2.0
 */
export const TurnModel = Schema.Struct({
  provider: Schema.String,
  model: Schema.String
})
/** @since 0.2.0 */
export type TurnModel = typeof TurnModel.Type

const noTurns = Effect.sync((): ReadonlyArray<TurnModel> => [])
const noCost = Effect.sync(() => new Cost({ usd: 0, input: 0, output: 0, cacheWrite: 0, cacheRead: 0, unpriced: [] }))
const noCosts = Effect.sync((): ReadonlyArray<Cost> => [])

/**
 * The outcome of one ask.
 *
 * - `text`: the final turn's text
 * - `turns`: model turns taken; `attempts`: calls the agent made of its provider, retries
 *   included (a fallback chain is one provider: its switches inside a call are not counted here)
 * - `stopReason`: why the last turn ended
 * - `usage`: summed over every turn and attempt (a fallback chain's dropped attempts included)
 * - `value`: what the model passed to the `answer` tool, if it did
 * - `sources`: the data handles the model said that answer came from (the `answer` tool's
 *   `sources`, each checked to exist; `session.lineage(name)` gives each one's chain back to what
 *   was put)
 * - `answeredBy`: for each completed turn, in order, the provider and model that answered it
 *   (empty when decoded from a result written before the field existed)
 * - `cost`: the run's dollar cost at the `Pricing` table (every attempt, and compaction summaries;
 *   models without a price named in `cost.unpriced`)
 * - `turnCosts`: for each completed turn, in order, its cost (its retried attempts included)
 *
 * @example
 * ```ts
 * const result = yield* agent.runResult("How many orders are late?")
 * result.answeredBy // [{ provider: "openai", model: "gpt-4.1-mini" }, { provider: "anthropic", ... }]
 * ```
 * @since 0.1.0
 */
export class RunResult extends Schema.Class<RunResult>("data-harness/RunResult")({
  text: Schema.String,
  status: Status,
  turns: Schema.Number,
  attempts: Schema.Number,
  stopReason: AnyStopReason,
  usage: Usage,
  value: Schema.optionalKey(Schema.Unknown),
  sources: Schema.optionalKey(Schema.Array(Schema.String)),
  answeredBy: Schema.Array(TurnModel).pipe(
    Schema.withDecodingDefaultKey(noTurns),
    Schema.withConstructorDefault(noTurns)
  ),
  cost: Cost.pipe(Schema.withDecodingDefaultKey(noCost), Schema.withConstructorDefault(noCost)),
  turnCosts: Schema.Array(Cost).pipe(Schema.withDecodingDefaultKey(noCosts), Schema.withConstructorDefault(noCosts))
}) {}
