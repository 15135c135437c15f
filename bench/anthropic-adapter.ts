/**
 * The Anthropic adapter alone against raw `@anthropic-ai/sdk` iteration over the same bytes, served
 * by the bench server in its own process. Reports the client's CPU time per event (less sensitive
 * to a busy machine than wall time) and wall time. Run:
 * `tsx bench/anthropic-adapter.ts [deltas=200000] [repetitions=7] [contenders,...]`.
 * @since 0.1.0
 */
import AnthropicSdk from "@anthropic-ai/sdk"
import { Effect, Exit, Redacted, Scope, Stream } from "effect"
import * as Message from "../src/core/Message.js"
import * as Anthropic from "../src/provider/anthropic/Anthropic.js"
import * as Provider from "../src/provider/Provider.js"
import { startServer } from "./util/server.js"
import { collectGarbage, median } from "./util/stats.js"

const deltas = Number(process.argv[2] ?? 200_000)
const repetitions = Number(process.argv[3] ?? 7)
const only = process.argv[4]?.split(",")

const server = await startServer()
const model = `stream:${deltas}`
const client = new AnthropicSdk({ apiKey: "sk-ant-bench", baseURL: server.url, maxRetries: 0 })
const providerScope = Effect.runSync(Scope.make())
const provider = Effect.runSync(
  Scope.provide(providerScope)(Anthropic.make({ model, apiKey: Redacted.make("sk-ant-bench"), baseURL: server.url }))
)
const request: Provider.Request = { messages: [Message.user("Say something long.")], tools: [] }
const params = { model, max_tokens: 4096, messages: [{ role: "user" as const, content: "Say something long." }] }

const contenders: Record<string, () => Promise<number>> = {
  sdk: async () => {
    let count = 0
    for await (const _event of await client.messages.create({ ...params, stream: true })) count++
    return count
  },
  "adapter-batches": () =>
    Effect.runPromise(
      Effect.suspend(() => {
        let count = 0
        return provider.stream(request).pipe(
          Stream.runForEachArray((batch) => {
            count += batch.length
            return Effect.void
          }),
          Effect.map(() => count)
        )
      })
    ),
  "adapter-forEach": () =>
    Effect.runPromise(
      Effect.suspend(() => {
        let count = 0
        return provider.stream(request).pipe(
          Stream.runForEach(() =>
            Effect.sync(() => {
              count++
            })
          ),
          Effect.map(() => count)
        )
      })
    ),
  "adapter-collect": () =>
    Effect.runPromise(Provider.collect(provider.stream(request)).pipe(Effect.map((r) => r.content.length))),
  "sdk-finalMessage": async () => (await client.messages.stream(params).finalMessage()).content.length
}

const names = Object.keys(contenders).filter((name) => only === undefined || only.includes(name))
const cpu = new Map<string, Array<number>>(names.map((name) => [name, []]))
const wall = new Map<string, Array<number>>(names.map((name) => [name, []]))
for (const name of names) await contenders[name]!() // warm up
for (let rep = 0; rep < repetitions; rep++) {
  // rotate the order so no contender always runs first
  for (let k = 0; k < names.length; k++) {
    const name = names[(k + rep) % names.length]!
    collectGarbage()
    const c0 = process.cpuUsage()
    const t0 = performance.now()
    await contenders[name]!()
    wall.get(name)!.push(performance.now() - t0)
    const used = process.cpuUsage(c0)
    cpu.get(name)!.push((used.user + used.system) / 1000)
  }
}
const base = median(cpu.get("sdk") ?? cpu.get(names[0]!)!)
console.log(`${deltas} text deltas, median of ${repetitions} repetitions (client process only)`)
console.log("| contender | cpu ms | cpu ns/event | cpu ratio to sdk | wall ms |")
console.log("| --- | ---: | ---: | ---: | ---: |")
for (const name of names) {
  const ms = median(cpu.get(name)!)
  console.log(
    `| ${name} | ${ms.toFixed(0)} | ${((ms * 1e6) / deltas).toFixed(0)} | ${(ms / base).toFixed(3)} | ${median(wall.get(name)!).toFixed(0)} |`
  )
}
await Effect.runPromise(Scope.close(providerScope, Exit.void))
await server.stop()
