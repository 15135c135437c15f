/**
 * `npm run serve`: the data-harness server on http://127.0.0.1:8787 (`PORT`, `HOST` to change),
 * with the analyst page at its root, printing its URL and which model it uses.
 *
 * - With `ANTHROPIC_API_KEY` it asks Claude (`ANTHROPIC_MODEL`, `ANTHROPIC_BASE_URL`).
 * - Else with `OPENAI_API_KEY` or `OPENAI_BASE_URL`, the OpenAI-compatible provider (`OPENAI_MODEL`).
 * - Else, offline, the scripted analyst (`Web.scriptedAnalyst`): it lists the session's data,
 *   totals a column with real SQL, charts the result and answers with what the query returned.
 *
 * The sessions' tools are the data tools plus `chart`; the page offers `scratchpad/data/sales.csv`
 * as a sample dataset.
 *
 * Tokens: `DATA_HARNESS_TOKENS="tenant=token,tenant2=token2"`. Without it, a token for tenant
 * `dev` is generated and written to a file readable only by you (its path is printed; the token
 * itself never is).
 */
import { randomBytes } from "node:crypto"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import { fileURLToPath } from "node:url"
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import { Config, Effect, Layer, Option } from "effect"
import { Anthropic, DataTools, Mock, OpenAI, type Provider } from "../src/index.js"
import { Server, Tenancy } from "../src/server/index.js"
import * as Chart from "../src/tools/Chart.js"
import { Web } from "../src/web/index.js"

// configuration

const sample: Web.Sample = {
  name: "sales",
  path: fileURLToPath(new URL("./data/sales.csv", import.meta.url)),
  description: "200 sales of four products in four regions, January to June 2024"
}

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
    layer: Mock.layer({
      turns: [Web.scriptedAnalyst],
      chunkSize: 6,
      eventDelay: "15 millis",
      model: "scripted-analyst"
    }),
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
    system:
      "You are a data analyst. Use the tools to look at the session's data before you answer; " +
      "when a chart helps, draw one with the chart tool.",
    agent: { dataTools: [...DataTools.all, Chart.chart] },
    routes: Web.routes({ tokens: auth.grants, samples: [sample] })
  }).pipe(Layer.provide(provider.layer))
  yield* Layer.build(server)
  const url = `http://${env("HOST") ?? "127.0.0.1"}:${port}`
  const bearer = "file" in auth ? `$(cat ${auth.file})` : "<your token>"
  console.log(`data-harness server: ${url}`)
  console.log(`page: ${url}/ (sign in with the token${"file" in auth ? ` in ${auth.file}` : ""})`)
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
