/**
 * `npm run serve`: the data-harness server on http://127.0.0.1:8787 (`PORT`, `HOST` to change),
 * printing its URL and which model it uses.
 *
 * - With `ANTHROPIC_API_KEY` it asks Claude (`ANTHROPIC_MODEL`, `ANTHROPIC_BASE_URL`).
 * - Else with `OPENAI_API_KEY` or `OPENAI_BASE_URL`, the OpenAI-compatible provider (`OPENAI_MODEL`).
 * - Else, offline, an embedded scripted analyst: it lists the session's data, runs real SQL over
 *   the first table and answers with what the query returned.
 *
 * Tokens: `DATA_HARNESS_TOKENS="tenant=token,tenant2=token2"`. Without it, a token for tenant
 * `dev` is generated and written to a file readable only by you (its path is printed; the token
 * itself never is).
 */
import { randomBytes } from "node:crypto"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import { Config, Effect, Layer, Option } from "effect"
import { Anthropic, Mock, OpenAI, type Provider } from "../src/index.js"
import { Server, Tenancy } from "../src/server/index.js"

// the offline model: one scripted turn, computed from the conversation each time

interface ToolResultLike {
  readonly type: string
  readonly tool_use_id?: string
  readonly content?: unknown
}

const toolNames = (messages: ReadonlyArray<{ role: string; content: ReadonlyArray<{ type: string }> }>) => {
  const names = new Map<string, string>()
  for (const message of messages) {
    for (const block of message.content) {
      if (block.type === "tool_use") {
        const use = block as unknown as { id: string; name: string }
        names.set(use.id, use.name)
      }
    }
  }
  return names
}

/** The first table handle named in a `list_variables` result. */
const firstTable = (listing: string): string | undefined => {
  try {
    const handles = JSON.parse(listing) as ReadonlyArray<{ name: string; kind?: string }>
    return handles.find((h) => h.kind === "table")?.name
  } catch {
    return /"name":\s*"([A-Za-z_][A-Za-z0-9_]*)"/.exec(listing)?.[1]
  }
}

const offlineAnalyst = Mock.reply(({ messages, lastToolResults }) => {
  const results = lastToolResults as ReadonlyArray<ToolResultLike>
  if (results.length === 0) return Mock.toolCalls([{ name: "list_variables" }], "Let me look at the data first. ")
  const names = toolNames(messages)
  const last = results[results.length - 1]!
  const content = typeof last.content === "string" ? last.content : JSON.stringify(last.content)
  switch (names.get(last.tool_use_id ?? "")) {
    case "list_variables": {
      const table = firstTable(content)
      if (table === undefined) {
        return Mock.text(
          "There is no table in this session yet. Upload a CSV, TSV, Parquet or JSON file " +
            "(PUT /v1/sessions/{id}/data/{name}) and ask again."
        )
      }
      return Mock.toolCalls(
        [{ name: "sql", input: { query: `SELECT count(*) AS row_count FROM ${table}` } }],
        `I'll count the rows of ${table}. `
      )
    }
    case "sql":
      return Mock.text(`The query returned: ${content.split("\n")[0]}. (This is the offline scripted model.)`)
    default:
      return Mock.text(`The tool returned: ${content.slice(0, 200)}`)
  }
})

// configuration

const env = (name: string) => {
  const value = process.env[name]
  return value === undefined || value.length === 0 ? undefined : value
}

const chooseProvider = (): { readonly layer: Layer.Layer<Provider.Provider, unknown>; readonly label: string } => {
  if (env("ANTHROPIC_API_KEY") !== undefined) {
    return { layer: Anthropic.layerConfig(), label: `Claude (${env("ANTHROPIC_MODEL") ?? "default model"})` }
  }
  if (env("OPENAI_API_KEY") !== undefined || env("OPENAI_BASE_URL") !== undefined) {
    return {
      layer: OpenAI.layerConfig(),
      label: `the OpenAI-compatible provider at ${env("OPENAI_BASE_URL") ?? "api.openai.com"}`
    }
  }
  return {
    layer: Mock.layer({ turns: [offlineAnalyst], chunkSize: 6, eventDelay: "15 millis", model: "scripted-analyst" }),
    label: "the offline scripted model (no ANTHROPIC_API_KEY, OPENAI_API_KEY or OPENAI_BASE_URL set)"
  }
}

/** The configured grants, or a generated token for tenant `dev` written to a private file. */
const grants = Effect.gen(function* () {
  const configured = yield* Config.option(Tenancy.grantsConfig())
  if (Option.isSome(configured) && configured.value.length > 0) {
    return { grants: configured.value, note: `${configured.value.length} token(s) from DATA_HARNESS_TOKENS` }
  }
  const token = `dh_${randomBytes(24).toString("base64url")}`
  const file = Path.join(Os.tmpdir(), `data-harness-serve-token-${process.pid}`)
  Fs.writeFileSync(file, token, { mode: 0o600 })
  yield* Effect.addFinalizer(() => Effect.sync(() => Fs.rmSync(file, { force: true })))
  return {
    grants: [{ tenant: "dev", token }],
    note: `a generated token for tenant "dev" in ${file} (set DATA_HARNESS_TOKENS to use your own)`,
    file
  }
})

const program = Effect.gen(function* () {
  const provider = chooseProvider()
  const auth = yield* grants
  const port = Number(env("PORT") ?? 8787)
  const server = Server.layer({
    port,
    host: env("HOST") ?? "127.0.0.1",
    tokens: auth.grants,
    system: "You are a data analyst. Use the tools to look at the session's data before you answer."
  }).pipe(Layer.provide(provider.layer))
  yield* Layer.build(server)
  const url = `http://${env("HOST") ?? "127.0.0.1"}:${port}`
  const bearer = "file" in auth ? `$(cat ${auth.file})` : "<your token>"
  console.log(`data-harness server: ${url}`)
  console.log(`model: ${provider.label}`)
  console.log(`auth: ${auth.note}`)
  console.log(`OpenAPI: ${url}/openapi.json`)
  console.log(
    `try: curl -s -X POST ${url}/v1/sessions -H "Authorization: Bearer ${bearer}" -H "content-type: application/json" -d '{}'`
  )
  return yield* Effect.never
})

// Ctrl-C interrupts the program: the server stops, sessions are released, the token file removed
NodeRuntime.runMain(Effect.scoped(program))
