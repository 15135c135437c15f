/**
 * The typed answer's part of the loop: an answer the `answer` tool refused (it did not decode)
 * and a run that ends without an answer are each a refusal; the model gets the refusal (the
 * tool's error result, or a reminder) and another turn while refusals stay within
 * `answerRetries`, and the next fails the ask with `InvalidAnswer`.
 *
 * @internal
 */
import { Effect, Ref } from "effect"
import type { HarnessError } from "../core/HarnessError.js"
import * as Message from "../core/Message.js"
import { userStep } from "../store/Step.js"
import * as Answer from "./Answer.js"
import { type Ask, end, type Step } from "./askState.js"

/** What a run that ends without a typed answer is told. */
export const MISSING_ANSWER_REMINDER =
  "[harness] You ended without giving the final answer. Call the `answer` tool with it, as its input schema describes."

const invalidAnswer = (ask: Ask, reason: "invalid" | "missing", issue: string): Step => {
  const attempts = ask.state.answerRefusals
  const error = new Answer.InvalidAnswer({
    reason,
    attempts,
    issue,
    partial: ask.state.partial(),
    message:
      reason === "invalid"
        ? `The model's answer did not match the answer schema ${attempts} times (answerRetries: ${ask.config.answerRetries}); the last refusal: ${issue} Loosen the schema, raise answerRetries, or say in the prompt what the answer must hold.`
        : `The model ended without giving a typed answer${attempts > 1 ? `, also after ${attempts - 1} reminder(s)` : ""}. Say in the prompt that it must call the answer tool, or raise answerRetries (or maxTurns).`
  })
  // InvalidAnswer is not a HarnessError: the asks that can fail with it say so in their types
  return end(ask, Effect.fail(error as unknown as HarnessError))
}

/** The `answer` calls of `uses` whose committed results are errors, as those results' texts. */
const refusedAnswers = (ask: Ask, uses: ReadonlyArray<Message.ToolUseBlock>): ReadonlyArray<string> => {
  const ids = new Set(uses.filter((use) => use.name === Answer.name).map((use) => use.id))
  if (ids.size === 0) return []
  const history = Ref.getUnsafe(ask.session.history)
  const results = history[history.length - 1]?.content ?? []
  const refused: Array<string> = []
  for (const block of results) {
    if (block.type !== "tool_result") continue
    const result = block as Message.ToolResultBlock
    if (!ids.has(result.tool_use_id) || result.is_error !== true) continue
    refused.push(typeof result.content === "string" ? result.content : JSON.stringify(result.content))
  }
  return refused
}

/**
 * After a turn's tool results are committed: with a typed answer, each refused `answer` call is
 * a refusal; past `answerRetries` the ask fails, else `next()`.
 * @internal
 */
export const afterTools = (ask: Ask, uses: ReadonlyArray<Message.ToolUseBlock>, next: () => Step): Step => {
  if (!ask.config.typedAnswer || ask.state.answer !== undefined) return next()
  const refused = refusedAnswers(ask, uses)
  if (refused.length === 0) return next()
  ask.state.answerRefusals += refused.length
  return ask.state.answerRefusals > ask.config.answerRetries
    ? invalidAnswer(ask, "invalid", refused[refused.length - 1]!)
    : next()
}

/**
 * The run would end: with a typed answer not given, the model is reminded (a user message) and
 * `next()` runs its next turn, or the ask fails when refusals or turns are used up. `undefined`
 * when the run may end.
 * @internal
 */
export const beforeEnd = (ask: Ask, next: () => Step): Step | undefined => {
  const { state, config } = ask
  if (!config.typedAnswer || state.answer !== undefined) return undefined
  state.answerRefusals++
  if (state.answerRefusals > config.answerRetries || state.turns >= config.maxTurns) {
    return invalidAnswer(ask, "missing", "no answer was given")
  }
  return Effect.andThen(ask.session.commit([userStep([Message.text(MISSING_ANSWER_REMINDER)])]), Effect.suspend(next))
}
