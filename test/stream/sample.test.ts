/**
 * The sample (`npm start`, scratchpad/sample.ts), run as a user runs it: a child process whose
 * environment picks the model (issue 15 item 3), talking to a local server that speaks the
 * provider's API where one is picked. Its output shows each tool call and a summary line per
 * answer (issue 14, built on `Accumulate`).
 */
import { spawn } from "node:child_process"
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import * as AnthropicServer from "../utils/anthropicServer.js"
import * as OpenAIServer from "../utils/openaiServer.js"

/** Runs the sample with exactly these model variables (none of the caller's) and its output. */
const runSample = (env: Readonly<Record<string, string>>) =>
  Effect.callback<{ readonly code: number | null; readonly stdout: string; readonly stderr: string }>((resume) => {
    const clean = Object.fromEntries(
      Object.entries(process.env).filter(([key]) => !key.startsWith("ANTHROPIC_") && !key.startsWith("OPENAI_"))
    )
    const child = spawn(process.execPath, ["--import", "tsx", "scratchpad/sample.ts"], {
      env: { ...clean, ...env },
      stdio: ["ignore", "pipe", "pipe"]
    })
    let stdout = ""
    let stderr = ""
    child.stdout.on("data", (data) => {
      stdout += data
    })
    child.stderr.on("data", (data) => {
      stderr += data
    })
    child.once("close", (code) => resume(Effect.succeed({ code, stdout, stderr })))
    return Effect.sync(() => child.kill())
  })

const summaryLine =
  /\[\d+\.\d\d s, \d+ events \(\d+ deltas\) over (\d+) turns; first token after \d+ ms, first tool call after (\d+ ms|none)\]/g

describe("the sample (npm start)", () => {
  it.live(
    "without keys it runs the scripted model offline, shows each tool call and a summary line per answer",
    () =>
      Effect.gen(function* () {
        const { code, stdout, stderr } = yield* runSample({})
        assert.strictEqual(code, 0, stderr)
        const lines = stdout.split("\n")
        assert.match(lines[0]!, /^No ANTHROPIC_API_KEY, OPENAI_API_KEY or OPENAI_BASE_URL set: .*scripted model/)
        assert.include(stdout, '  → sql {"query":"SELECT region, round(sum(units * unit_price), 2)')
        assert.include(stdout, "West sells most, with 22140.06 in revenue.")
        assert.include(stdout, "Doohickey brings in the most per order")
        assert.deepStrictEqual(
          [...stdout.matchAll(summaryLine)].map((m) => m[1]),
          ["5", "2"]
        )
      }),
    120_000
  )

  it.live(
    "with OPENAI_BASE_URL and no key it asks that OpenAI-compatible server (as an Ollama), and says so first",
    () =>
      Effect.gen(function* () {
        const server = yield* OpenAIServer.make({
          replies: [
            {
              sse: OpenAIServer.sse(
                OpenAIServer.toolCallChunks([
                  { id: "call_1", name: "sql", pieces: ['{"query": "SELECT count(*) AS n', ' FROM sales"}'] }
                ])
              )
            }
          ],
          default: { sse: OpenAIServer.sse(OpenAIServer.textChunks(["There are ", "200 orders."])) }
        })
        const { code, stdout, stderr } = yield* runSample({ OPENAI_BASE_URL: server.url, OPENAI_MODEL: "qwen3:8b" })
        assert.strictEqual(code, 0, stderr)
        assert.strictEqual(
          stdout.split("\n")[0],
          `Using the OpenAI-compatible server at ${server.url} (model qwen3:8b), from OPENAI_BASE_URL.`
        )
        assert.include(stdout, '  → sql {"query": "SELECT count(*) AS n FROM sales"}')
        assert.include(stdout, '"rows":[[200]]')
        assert.include(stdout, "There are 200 orders.")
        assert.deepStrictEqual(
          [...stdout.matchAll(summaryLine)].map((m) => m[1]),
          ["2", "1"]
        )
        assert.strictEqual(server.requests[0]!.body.model, "qwen3:8b")
      }),
    120_000
  )

  it.live(
    "with ANTHROPIC_API_KEY it asks Claude (here a local server at ANTHROPIC_BASE_URL), even when OpenAI is configured too",
    () =>
      Effect.gen(function* () {
        const server = yield* AnthropicServer.make({ default: { sse: AnthropicServer.fixture("text.sse") } })
        const { code, stdout, stderr } = yield* runSample({
          ANTHROPIC_API_KEY: "sk-ant-test",
          ANTHROPIC_BASE_URL: server.url,
          OPENAI_API_KEY: "sk-openai-test"
        })
        assert.strictEqual(code, 0, stderr)
        assert.strictEqual(stdout.split("\n")[0], "Using Claude (claude-sonnet-4-6), from ANTHROPIC_API_KEY.")
        assert.strictEqual(server.requests.length, 2)
        assert.deepStrictEqual(
          [...stdout.matchAll(summaryLine)].map((m) => m[1]),
          ["1", "1"]
        )
      }),
    120_000
  )
})
