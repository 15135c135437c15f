/**
 * An MCP server over a session holding the bundled sales data (`scratchpad/data/sales.csv` as the
 * handle `sales`), serving `list_variables`, `sql` and `javascript`. No model and no API key: the
 * MCP client's model does the asking.
 *
 * stdio (what Claude Code and Claude Desktop start; absolute paths, so any working directory works):
 *   claude mcp add data-harness -- /path/to/data-harness/node_modules/.bin/tsx /path/to/data-harness/scratchpad/mcp.ts
 * streamable HTTP on 127.0.0.1 (`--http [port]`, default 3333), at /mcp; with MCP_TOKEN set, requests
 * need `Authorization: Bearer $MCP_TOKEN`:
 *   npx tsx scratchpad/mcp.ts --http 3333
 *   claude mcp add --transport http data-harness http://127.0.0.1:3333/mcp
 */
import { fileURLToPath } from "node:url"
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import { Console, Effect, Layer, Redacted } from "effect"
import { HttpServer } from "effect/http"
import { Data } from "../src/index.js"
import * as Mcp from "../src/mcp/Mcp.js"

const salesCsv = fileURLToPath(new URL("./data/sales.csv", import.meta.url))

const instructions =
  "The session holds one table handle, `sales` (daily sales: date, region, product, channel, units, " +
  "unit_price). Call list_variables to see its snapshot, then query it with sql (DuckDB) or javascript."

const httpAt = process.argv.indexOf("--http")
const port = httpAt === -1 ? undefined : Number(process.argv[httpAt + 1] ?? 3333) || 3333
const token = process.env.MCP_TOKEN
const authorize =
  token === undefined || token === ""
    ? undefined
    : (given: Redacted.Redacted<string>) => Effect.succeed(Redacted.value(given) === token)

const program = Effect.gen(function* () {
  const data = yield* Data.makeStore
  yield* data.putFile("sales", salesCsv, { description: "Daily sales, January to June 2024" })
  const session = { data }
  if (port === undefined) return yield* Layer.launch(Mcp.layerStdio({ session, instructions }))
  return yield* Effect.gen(function* () {
    const server = yield* HttpServer.HttpServer
    yield* Console.log(`MCP (streamable HTTP) at ${HttpServer.formatAddress(server.address)}/mcp`)
    return yield* Effect.never
  }).pipe(Effect.provide(Mcp.layerServer({ session, instructions, port, authorize })))
})

program.pipe(Effect.scoped, NodeRuntime.runMain)
