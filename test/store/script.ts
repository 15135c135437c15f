/**
 * The deterministic commits of the crash test, and the history a store must hold after any number
 * of them, built here independently of the store's own fold.
 *
 * Commit `n` (1-based) is part `(n - 1) % 5` of exchange `floor((n - 1) / 5)`:
 * 0. the user's question;
 * 1. a turn with text and two tool calls;
 * 2. the first tool result;
 * 3. the second tool result and a handle;
 * 4. the answer, with the usage of a discarded attempt.
 */
import * as Message from "../../src/core/Message.js"
import * as Usage from "../../src/core/Usage.js"
import * as SessionStore from "../../src/store/SessionStore.js"

const turnUsage = Usage.make({ inputTokens: 100, outputTokens: 10, cacheReadTokens: 5 })
const answerUsage = Usage.make({ inputTokens: 120, outputTokens: 20 })
const discardedUsage = Usage.make({ inputTokens: 7, outputTokens: 1 })

const question = (x: number) => `Question ${x}: what is ${x} squared?`
const callA = (x: number) => `toolu_${x}_a`
const callB = (x: number) => `toolu_${x}_b`
const calls = (x: number): ReadonlyArray<Message.ContentBlock> => [
  { type: "text", text: `Computing ${x}.` },
  { type: "tool_use", id: callA(x), name: "sql", input: { sql: `SELECT ${x} * ${x}`, z: [x, { b: 1, a: 2 }] } },
  { type: "tool_use", id: callB(x), name: "javascript", input: { code: `${x} ** 2` } }
]
const resultA = (x: number) => Message.toolResult(callA(x), String(x * x))
const resultB = (x: number) => Message.toolResult(callB(x), `${x * x} (checked)`)
const answer = (x: number): ReadonlyArray<Message.ContentBlock> => [{ type: "text", text: `${x} squared is ${x * x}.` }]
const handle = (x: number): SessionStore.StoredHandle => ({
  name: `result_${x}`,
  snapshot: { kind: "scalar", type: "integer", value: x * x },
  value: x * x,
  lineage: { tool: "sql", call: callA(x) }
})

/** The steps of commit `n`. */
export const commit = (n: number): ReadonlyArray<SessionStore.Step> => {
  const x = Math.floor((n - 1) / 5)
  switch ((n - 1) % 5) {
    case 0:
      return [SessionStore.userStep(question(x))]
    case 1:
      return [SessionStore.turnStep(calls(x), turnUsage)]
    case 2:
      return [SessionStore.toolResultsStep([resultA(x)])]
    case 3:
      return [SessionStore.toolResultsStep([resultB(x)]), SessionStore.putHandleStep(handle(x))]
    default:
      return [SessionStore.turnStep(answer(x), answerUsage), SessionStore.usageStep(discardedUsage)]
  }
}

const unanswered = (id: string) =>
  Message.toolResult(id, "Tool call did not run: the conversation was saved before it finished.", true)

/** The history after `n` commits, as the API must receive it. */
export const expectedHistory = (n: number): Message.History => {
  const history: Array<Message.Message> = []
  for (let x = 0; x * 5 < n; x++) {
    const parts = Math.min(5, n - x * 5)
    history.push(Message.user(question(x)))
    if (parts === 1) break
    history.push(Message.assistant(calls(x)))
    if (parts === 2) {
      history.push(Message.user([unanswered(callA(x)), unanswered(callB(x))]))
      break
    }
    if (parts === 3) {
      history.push(Message.user([resultA(x), unanswered(callB(x))]))
      break
    }
    history.push(Message.user([resultA(x), resultB(x)]))
    if (parts === 4) break
    history.push(Message.assistant(answer(x)))
  }
  return history
}

/** The usage after `n` commits. */
export const expectedUsage = (n: number): Usage.Usage => {
  let usage = Usage.empty
  for (let i = 1; i <= n; i++) {
    const part = (i - 1) % 5
    if (part === 1) usage = Usage.add(usage, turnUsage)
    if (part === 4) usage = Usage.add(Usage.add(usage, answerUsage), discardedUsage)
  }
  return usage
}

/** The handle names after `n` commits. */
export const expectedHandles = (n: number): ReadonlyArray<string> => {
  const names: Array<string> = []
  for (let i = 1; i <= n; i++) if ((i - 1) % 5 === 3) names.push(handle(Math.floor((i - 1) / 5)).name)
  return names
}
