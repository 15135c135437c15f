/**
 * What a fallback chain costs per chunk under the agent, against the provider alone and against
 * the same chain on effect's `ExecutionPlan` (`Stream.withExecutionPlan`, with the same per-chunk
 * work: the `mapArray` that tracks output). One turn of N text deltas, in chunks of CH events,
 * drained through `agent.runStream`; 7 rounds, the three interleaved; the median is printed.
 *
 *   npx tsx scratchpad/fallback-overhead.ts          # N=1000000 CH=8
 *   N=200000 CH=1 npx tsx scratchpad/fallback-overhead.ts
 *
 * The figures are the README's ("Fallback chains"); on a shared machine they are indicative.
 */
import { Context, Effect, ExecutionPlan, Layer, Stream } from "effect"
import { Agent, Provider, type StreamEvent } from "../src/index.js"

const N = Number(process.env.N ?? 1_000_000)
const CH = Number(process.env.CH ?? 8)

const events: Array<StreamEvent.ProviderEvent> = [
  {
    type: "message_start",
    message: { id: "msg_bench", role: "assistant", model: "bench", content: [], usage: { input_tokens: 1 } }
  },
  { type: "content_block_start", index: 0, content_block: { type: "text", text: "" } }
]
for (let i = 0; i < N; i++)
  events.push({ type: "content_block_delta", index: 0, delta: { type: "text_delta", text: "ab" } })
events.push(
  { type: "content_block_stop", index: 0 },
  { type: "message_delta", delta: { stop_reason: "end_turn" }, usage: { output_tokens: N } },
  { type: "message_stop" }
)
const chunks: Array<Array<StreamEvent.ProviderEvent>> = []
for (let i = 0; i < events.length; i += CH) chunks.push(events.slice(i, i + CH))

const direct = Provider.make({
  name: "direct",
  model: "bench",
  chat: () => Effect.die("streaming only"),
  stream: () => Stream.fromIterable(chunks).pipe(Stream.flattenIterable)
})

/** The chain on ExecutionPlan: each step provides its member; the attempt counts what it emitted. */
class Member extends Context.Service<Member, Provider.Service>()("bench/Member") {}
let emitted = 0
const plan = ExecutionPlan.make({ provide: Context.make(Member, direct) }, { provide: Context.make(Member, direct) })
const onPlan: Provider.Service = {
  ...direct,
  stream: (request) => {
    return Stream.unwrap(
      Effect.map(Effect.service(Member), (member) =>
        member.stream(request).pipe(
          Stream.mapArray((chunk) => {
            emitted++
            return chunk
          })
        )
      )
    ).pipe(Stream.withExecutionPlan(plan))
  }
}

const variants: ReadonlyArray<readonly [string, Provider.Service]> = [
  ["provider alone", direct],
  ["Provider.fallback", Provider.fallback([direct, direct])],
  ["ExecutionPlan chain", onPlan]
]

const program = Effect.gen(function* () {
  const agents = yield* Effect.forEach(variants, ([, provider]) =>
    Agent.make({ builtinTools: false }).pipe(Effect.provide(Layer.succeed(Provider.Provider, provider)))
  )
  const times = variants.map((): Array<number> => [])
  for (let round = 0; round < 7; round++) {
    for (let i = 0; i < agents.length; i++) {
      const start = performance.now()
      yield* Stream.runDrain(agents[i]!.runStream("go"))
      times[i]!.push(performance.now() - start)
    }
  }
  variants.forEach(([name], i) => {
    const sorted = times[i]!.sort((a, b) => a - b)
    const median = sorted[3]!
    console.log(
      `${name.padEnd(20)} ${median.toFixed(0).padStart(6)} ms  ${((median * 1000) / chunks.length).toFixed(2)} us/chunk  (${chunks.length} chunks of ${CH})`
    )
  })
})

Effect.runPromise(program).then(() => console.log(`(${emitted} chunks through the ExecutionPlan chain)`))
