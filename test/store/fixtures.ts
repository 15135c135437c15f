import { DuckDBInstance } from "@duckdb/node-api"
import { Effect } from "effect"
import * as Message from "../../src/core/Message.js"

export const image = {
  type: "image",
  source: { type: "base64", media_type: "image/png", data: "iVBORw0KGgoAAAANSUhEUgAAAAE=" }
} as const

export const prompt: ReadonlyArray<Message.ContentBlock> = [
  { type: "text", text: "Look at this chart and these notes.", cache_control: { type: "ephemeral" } },
  image,
  {
    type: "document",
    source: { type: "text", media_type: "text/plain", data: "region,revenue\nEU,120" },
    title: "notes"
  }
]

export const firstTurn: ReadonlyArray<Message.ContentBlock> = [
  { type: "thinking", thinking: "I should query the table.", signature: "EqQBCkYIARgCKkA=" },
  { type: "redacted_thinking", data: "EmwKAhgBEgy3va3pzix/LafPsn4aDFIT2Xlxh0L5L8rLVyIwxtE3rAFBa8cr3qpP" },
  {
    type: "text",
    text: "Revenue is in the notes.",
    citations: [
      { type: "char_location", cited_text: "EU,120", document_index: 0, start_char_index: 15, end_char_index: 21 }
    ]
  },
  { type: "server_tool_use", id: "srvtoolu_01", name: "web_search", input: { query: "EU revenue" } },
  {
    type: "web_search_tool_result",
    tool_use_id: "srvtoolu_01",
    content: [{ type: "web_search_result", url: "https://example.com", title: "Example", encrypted_content: "Eq==" }]
  },
  // key order and unicode of a tool input must come back byte for byte
  { type: "tool_use", id: "toolu_01", name: "sql", input: { z: 1, a: [1, { y: null, b: "ü ✓" }], sql: "SELECT 1" } },
  { type: "tool_use", id: "toolu_02", name: "javascript", input: {}, caller: { type: "direct" } }
]

export const firstResults: ReadonlyArray<Message.ToolResultBlock> = [
  Message.toolResult("toolu_01", '{"rowCount":1}'),
  {
    type: "tool_result",
    tool_use_id: "toolu_02",
    content: [{ type: "text", text: "the chart:" }, image],
    is_error: false
  }
]

export const lastTurn: ReadonlyArray<Message.ContentBlock> = [{ type: "text", text: "Total revenue is 120." }]

export const tableSnapshot = {
  kind: "table",
  rows: 2,
  columns: [
    { name: "region", type: "VARCHAR" },
    { name: "revenue", type: "INTEGER", description: "EUR" }
  ],
  sample: [
    { region: "EU", revenue: 120 },
    { region: "US", revenue: 80 }
  ]
}

/** Writes a real Parquet file with DuckDB. */
export const writeParquet = (path: string) =>
  Effect.promise(async () => {
    const instance = await DuckDBInstance.create(":memory:")
    const connection = await instance.connect()
    await connection.run(
      `COPY (SELECT * FROM (VALUES ('EU', 120), ('US', 80)) t(region, revenue)) TO '${path}' (FORMAT parquet)`
    )
    connection.closeSync()
    instance.closeSync()
  })

export const readParquet = (path: string) =>
  Effect.promise(async () => {
    const instance = await DuckDBInstance.create(":memory:")
    const connection = await instance.connect()
    const reader = await connection.runAndReadAll(`SELECT region, revenue FROM read_parquet('${path}') ORDER BY region`)
    const rows = reader.getRowObjectsJson()
    connection.closeSync()
    instance.closeSync()
    return rows
  })
