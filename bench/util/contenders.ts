/**
 * The three ways of reading one Anthropic SSE stream that the streaming benchmarks compare, each
 * consuming every event and keeping none:
 *
 * - `floor`: `node:http`, SSE lines split by hand, `JSON.parse` of every `data:` line. No client
 *   can do much less work.
 * - `sdk`: `@anthropic-ai/sdk` iterating `messages.create({ stream: true })`, what users of the
 *   SDK write.
 * - `harness`: data-harness `agent.runStream` over `Anthropic.layer`, consumed with
 *   `Stream.runForEach`, what users of the harness write.
 * @since 0.1.0
 */
import * as Http from "node:http"
import AnthropicSdk from "@anthropic-ai/sdk"
import { Effect, Stream } from "effect"
import { Agent } from "../../src/index.js"
import * as Anthropic from "../../src/provider/anthropic/Anthropic.js"

/**
 * A contender's name.
 * @since 0.1.0
 */
export type Contender = "floor" | "sdk" | "harness"

/**
 * Reads one whole stream from the bench server; resolves with the number of events consumed.
 * @since 0.1.0
 */
export type Reader = (model: string) => Promise<number>

/**
 * Options of every reader. `onEvent` is called with the running count after each event (only the
 * memory benchmark uses it, to look at the heap mid-stream).
 * @since 0.1.0
 */
export interface ReaderOptions {
  readonly onEvent?: ((count: number) => void) | undefined
}

const API_KEY = "sk-ant-bench"
const PROMPT = "Say something long."

const requestBody = (model: string) =>
  JSON.stringify({ model, max_tokens: 4096, messages: [{ role: "user", content: PROMPT }], stream: true })

/**
 * The floor: `node:http` with a keep-alive agent, lines split by hand, every `data:` line parsed.
 * `ping` is not counted, as the SDK and the harness drop it.
 * @since 0.1.0
 */
export const floor = (baseURL: string, options: ReaderOptions = {}): Reader => {
  const onEvent = options.onEvent
  const agent = new Http.Agent({ keepAlive: true })
  const url = new URL("/v1/messages", baseURL)
  return (model) =>
    new Promise((resolve, reject) => {
      const body = requestBody(model)
      const req = Http.request(
        url,
        {
          method: "POST",
          agent,
          headers: {
            "content-type": "application/json",
            "content-length": Buffer.byteLength(body),
            "x-api-key": API_KEY,
            "anthropic-version": "2023-06-01"
          }
        },
        (res) => {
          res.setEncoding("utf8")
          let rest = ""
          let count = 0
          res.on("data", (text: string) => {
            const lines = (rest + text).split("\n")
            rest = lines.pop()!
            for (const line of lines) {
              if (line.startsWith("data: ")) {
                const event = JSON.parse(line.slice(6)) as { readonly type: string }
                if (event.type !== "ping") {
                  count++
                  if (onEvent !== undefined) onEvent(count)
                }
              }
            }
          })
          res.on("end", () => resolve(count))
          res.on("error", reject)
        }
      )
      req.on("error", reject)
      req.end(body)
    })
}

/**
 * The raw SDK: `for await` over `messages.create({ stream: true })`.
 * @since 0.1.0
 */
export const sdk = (baseURL: string, options: ReaderOptions = {}): Reader => {
  const onEvent = options.onEvent
  const client = new AnthropicSdk({ apiKey: API_KEY, baseURL, maxRetries: 0 })
  return async (model) => {
    const stream = await client.messages.create({
      model,
      max_tokens: 4096,
      messages: [{ role: "user", content: PROMPT }],
      stream: true
    })
    let count = 0
    if (onEvent === undefined) for await (const _event of stream) count++
    else for await (const _event of stream) onEvent(++count)
    return count
  }
}

/**
 * An agent over `Anthropic.layer` at the bench server, with the defaults a user gets.
 * @since 0.1.0
 */
export const agentFor = (baseURL: string, model: string): Agent.Agent =>
  Effect.runSync(Agent.make().pipe(Effect.provide(Anthropic.layer({ model, apiKey: API_KEY, baseURL }))))

/**
 * The harness: `agent.runStream(prompt)` consumed to the end with `Stream.runForEach`.
 * @since 0.1.0
 */
export const harness = (baseURL: string, options: ReaderOptions = {}): Reader => {
  const onEvent = options.onEvent
  const agents = new Map<string, Agent.Agent>()
  return (model) => {
    let agent = agents.get(model)
    if (agent === undefined) agents.set(model, (agent = agentFor(baseURL, model)))
    let count = 0
    return Effect.runPromise(
      agent.runStream(PROMPT).pipe(
        Stream.runForEach(
          onEvent === undefined
            ? () =>
                Effect.sync(() => {
                  count++
                })
            : () => Effect.sync(() => onEvent(++count))
        ),
        Effect.map(() => count)
      )
    )
  }
}

/**
 * The reader of a contender.
 * @since 0.1.0
 */
export const reader = (contender: Contender, baseURL: string, options: ReaderOptions = {}): Reader =>
  contender === "floor"
    ? floor(baseURL, options)
    : contender === "sdk"
      ? sdk(baseURL, options)
      : harness(baseURL, options)
