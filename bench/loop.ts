/**
 * Loop overhead: model turns per second through the agent loop, every turn but the last of an ask
 * calling a no-op tool (so each turn is a model call, a tool call, a `tool_result` and history
 * updates), with no network and no delays.
 *
 * - `scripted (Mock)`: `Mock.layer` answering by the conversation so far (`Mock.reply`).
 * - `minimal provider`: a hand-written `Provider.make` that streams a prepared turn, to show how
 *   much of the figure is the scripted provider's own bookkeeping.
 *
 * Each ask is `agent.runResult(prompt)` in a fresh session, `TURNS_PER_ASK` turns long.
 *
 * Run alone: `npx tsx bench/loop.ts [asks=500] [repetitions=3]`.
 * @since 0.1.0
 */
import { pathToFileURL } from "node:url"
import { Effect, Layer, Schema, Stream } from "effect"
import { Agent, Mock, NormalizedResponse, Provider, Tool } from "../src/index.js"
import { collectGarbage, formatTable, median, type Row, rotations } from "./util/stats.js"

const TURNS_PER_ASK = 10
/** A Mock provider records every request; a fresh one every this many asks keeps that small. */
const ASKS_PER_PROVIDER = 50

const noop = Tool.make("noop", {
  description: "Does nothing.",
  parameters: Schema.Struct({}),
  handler: () => Effect.void
})

const turnOf = (messages: ReadonlyArray<{ readonly role: string }>) =>
  messages.filter((message) => message.role === "assistant").length + 1

const mockLayer = (): Layer.Layer<Provider.Provider> =>
  Layer.orDie(
    Mock.layer({
      turns: [
        Mock.reply(({ messages }) =>
          turnOf(messages) < TURNS_PER_ASK
            ? { toolCalls: [{ name: "noop", input: {} }], usage: { inputTokens: 10, outputTokens: 5 } }
            : { text: "done", usage: { inputTokens: 10, outputTokens: 5 } }
        )
      ]
    })
  )

const minimalLayer = (): Layer.Layer<Provider.Provider> => {
  const usage = { inputTokens: 10, outputTokens: 5, cacheReadTokens: 0, cacheWriteTokens: 0 }
  const final = Provider.synthesize(
    new NormalizedResponse.NormalizedResponse({
      stopReason: "end_turn",
      content: [{ type: "text", text: "done" }],
      usage
    })
  )
  const toolTurn = (id: string) =>
    Provider.synthesize(
      new NormalizedResponse.NormalizedResponse({
        stopReason: "tool_use",
        content: [{ type: "tool_use", id, name: "noop", input: {} }],
        usage
      })
    )
  const chat = () => Effect.die("not used")
  return Layer.succeed(Provider.Provider)(
    Provider.make({
      name: "minimal",
      model: "minimal",
      chat,
      stream: (request) => {
        const turn = turnOf(request.messages)
        return Stream.fromArray(turn < TURNS_PER_ASK ? toolTurn(`toolu_${turn}`) : final)
      }
    })
  )
}

type Contender = "scripted (Mock)" | "minimal provider"
const layers: Record<Contender, () => Layer.Layer<Provider.Provider>> = {
  "scripted (Mock)": mockLayer,
  "minimal provider": minimalLayer
}

const agentOf = (layer: Layer.Layer<Provider.Provider>) =>
  Effect.runSync(Agent.make({ tools: [noop], maxTurns: TURNS_PER_ASK + 5 }).pipe(Effect.provide(layer)))

/** Runs `asks` asks and returns the turns per second. */
const measure = async (contender: Contender, asks: number): Promise<number> => {
  collectGarbage()
  const t0 = performance.now()
  let turns = 0
  for (let done = 0; done < asks; done += ASKS_PER_PROVIDER) {
    const agent = agentOf(layers[contender]())
    const batch = Math.min(ASKS_PER_PROVIDER, asks - done)
    turns += await Effect.runPromise(
      Effect.gen(function* () {
        let sum = 0
        for (let i = 0; i < batch; i++) {
          const result = yield* agent.runResult("Call the tool until told otherwise.")
          if (result.status !== "completed" || result.turns !== TURNS_PER_ASK) {
            return yield* Effect.die(new Error(`unexpected result: ${result.status} after ${result.turns} turns`))
          }
          sum += result.turns
        }
        return sum
      })
    )
  }
  return (turns / (performance.now() - t0)) * 1000
}

/**
 * Turns per second for both contenders, medians over `repetitions` interleaved runs.
 * @since 0.1.0
 */
export const benchLoop = async (options: {
  readonly asks: number
  readonly repetitions: number
}): Promise<ReadonlyArray<Row>> => {
  const contenders: ReadonlyArray<Contender> = ["scripted (Mock)", "minimal provider"]
  for (const contender of contenders) await measure(contender, 50)
  const results = new Map<Contender, Array<number>>(contenders.map((c) => [c, []]))
  for (const order of rotations(contenders, options.repetitions)) {
    for (const contender of order) results.get(contender)!.push(await measure(contender, options.asks))
  }
  const benchmark = `agent loop (${TURNS_PER_ASK} turns/ask, no-op tool)`
  return contenders.flatMap((contender): Array<Row> => {
    const perSecond = median(results.get(contender)!)
    return [
      { benchmark, contender, value: perSecond, unit: "turns/s", detail: results.get(contender) },
      { benchmark, contender: `${contender} per turn`, value: 1_000_000 / perSecond, unit: "us" }
    ]
  })
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  console.log(
    formatTable(await benchLoop({ asks: Number(process.argv[2] ?? 500), repetitions: Number(process.argv[3] ?? 3) }))
  )
}
