/**
 * The Anthropic-compatible endpoint: `POST /v1/messages` takes a Messages API request and runs a
 * whole agent ask over it (model turns, the harness's own tool calls, their results, until the
 * model ends its turn), answered as ONE Anthropic message: as the API's own SSE events with
 * `stream: true`, else as JSON. The official `@anthropic-ai/sdk` is its client.
 *
 * - The harness's tool calls and results travel as `mcp_tool_use` (with `server_name:
 *   "data-harness"`) and `mcp_tool_result` blocks, which `client.beta.messages.stream(...)`
 *   accumulates with their streamed input. (The GA `client.messages.stream` keeps both blocks but
 *   not the streamed input of `mcp_tool_use`, which stays `{}`.) Sent back in a later request,
 *   they are read as the tool calls and results they were.
 * - Block indexes are numbered across the whole message; `usage` is summed over its turns;
 *   `stop_reason` is the last turn's (`pause_turn` when the harness hit its turn limit).
 * - Tools in the request (`tools`) are the caller's: when the model calls one, the message ends
 *   with `stop_reason: "tool_use"` and the `tool_use` block, as the API does; the follow-up
 *   request carrying the `tool_result` continues.
 * - Errors have the API's shape `{"type":"error","error":{"type":...,"message":...}}` and status.
 *
 * @since 0.2.0
 */
import { Schema } from "effect"
import { HttpApi, HttpApiEndpoint, HttpApiGroup, HttpApiMiddleware, HttpApiSchema } from "effect/http-api"
import { Message } from "../index.js"
import { security } from "./SessionApi.js"
import type { Tenant } from "./Tenancy.js"

// errors

/**
 * An error in the Anthropic API's shape, with the status that goes with its type.
 * @since 0.2.0
 */
export const errorSchema = <const Type extends string>(type: Type, status: number) =>
  Schema.Struct({
    type: Schema.Literal("error"),
    error: Schema.Struct({ type: Schema.Literal(type), message: Schema.String })
  }).pipe(HttpApiSchema.status(status))

/** @since 0.2.0 */
export const AuthenticationError = errorSchema("authentication_error", 401)

/**
 * The errors `POST /v1/messages` answers with, as the Anthropic API does.
 * @since 0.2.0
 */
export const errors = [
  errorSchema("invalid_request_error", 400),
  AuthenticationError,
  errorSchema("not_found_error", 404),
  errorSchema("request_too_large", 413),
  errorSchema("rate_limit_error", 429),
  errorSchema("api_error", 500),
  errorSchema("overloaded_error", 529)
] as const

// middleware

/**
 * Authenticates a `/v1/messages` request (the same tokens and schemes as the session API) with
 * an Anthropic-shaped 401.
 * @since 0.2.0
 */
export class Authentication extends HttpApiMiddleware.Service<Authentication, { provides: Tenant; requires: never }>()(
  "data-harness/server/MessagesApi/Authentication",
  { security, error: AuthenticationError }
) {}

/**
 * Turns a request that fails decoding into an `invalid_request_error` naming the field.
 * @since 0.2.0
 */
export class InvalidInput extends HttpApiMiddleware.Service<InvalidInput>()(
  "data-harness/server/MessagesApi/InvalidInput"
) {}

// request

const TextBlockParam = Schema.StructWithRest(Schema.Struct({ type: Schema.Literal("text"), text: Schema.String }), [
  Schema.Record(Schema.String, Schema.Unknown)
])

/**
 * A tool of the caller's: the model may call it, and the caller runs it.
 * @since 0.2.0
 */
export const ToolParam = Schema.Struct({
  name: Schema.String.check(
    Schema.makeFilter(
      (name: string) => /^[a-zA-Z0-9_-]{1,64}$/.test(name) || "expected a name of 1-64 letters, digits, _ or -"
    )
  ),
  description: Schema.optionalKey(Schema.String),
  input_schema: Schema.Record(Schema.String, Schema.Unknown),
  type: Schema.optionalKey(Schema.Literal("custom"))
})
/** @since 0.2.0 */
export type ToolParam = typeof ToolParam.Type

const WholeNumber = Schema.Int.check(Schema.isGreaterThanOrEqualTo(1))

/**
 * One message of the request: `content` is a string or content blocks.
 * @since 0.2.0
 */
export const MessageParam = Schema.Struct({
  role: Message.Role,
  content: Schema.Union([Schema.String, Schema.Array(Message.ContentBlock)])
})
/** @since 0.2.0 */
export type MessageParam = typeof MessageParam.Type

/**
 * The request: the Messages API's fields that the harness reads. `model` is required, as by the
 * API, but the server answers with its configured model. Fields it does not read are ignored.
 * @since 0.2.0
 */
export const MessagesRequest = Schema.Struct({
  model: Schema.String,
  max_tokens: WholeNumber,
  messages: Schema.Array(MessageParam).check(
    Schema.makeFilter((messages: ReadonlyArray<unknown>) => messages.length > 0 || "expected at least one message")
  ),
  system: Schema.optionalKey(Schema.Union([Schema.String, Schema.Array(TextBlockParam)])),
  stream: Schema.optionalKey(Schema.Boolean),
  tools: Schema.optionalKey(Schema.Array(ToolParam)),
  tool_choice: Schema.optionalKey(
    Schema.Union([
      Schema.Struct({
        type: Schema.Literals(["auto", "any", "none"]),
        disable_parallel_tool_use: Schema.optionalKey(Schema.Boolean)
      }),
      Schema.Struct({
        type: Schema.Literal("tool"),
        name: Schema.String,
        disable_parallel_tool_use: Schema.optionalKey(Schema.Boolean)
      })
    ])
  ),
  temperature: Schema.optionalKey(Schema.Number),
  top_p: Schema.optionalKey(Schema.Number),
  top_k: Schema.optionalKey(WholeNumber),
  stop_sequences: Schema.optionalKey(Schema.Array(Schema.String)),
  metadata: Schema.optionalKey(Schema.Struct({ user_id: Schema.optionalKey(Schema.NullOr(Schema.String)) })),
  thinking: Schema.optionalKey(
    Schema.Union([
      Schema.Struct({ type: Schema.Literal("enabled"), budget_tokens: WholeNumber }),
      Schema.Struct({ type: Schema.Literal("disabled") }),
      Schema.Struct({ type: Schema.Literal("adaptive") })
    ])
  )
})
/** @since 0.2.0 */
export type MessagesRequest = typeof MessagesRequest.Type

// response

/**
 * The whole message (`stream` unset or false), as the API returns it.
 * @since 0.2.0
 */
export const MessageResponse = Schema.Record(Schema.String, Schema.Unknown)

/**
 * One SSE event of a streamed message: `event:` is its `type`.
 * @since 0.2.0
 */
export const MessageStreamEvent = Schema.Struct({
  event: Schema.String,
  data: Schema.fromJsonString(Schema.Record(Schema.String, Schema.Unknown))
})

/**
 * The `/v1/messages` endpoint.
 * @since 0.2.0
 */
export class Messages extends HttpApiGroup.make("messages")
  .add(
    HttpApiEndpoint.post("create", "/v1/messages", {
      payload: MessagesRequest,
      success: [MessageResponse, HttpApiSchema.StreamSse({ events: MessageStreamEvent })],
      error: errors
    })
  )
  .middleware(InvalidInput)
  .middleware(Authentication)
  // every problem of a request; fields the harness does not read are ignored, not refused
  .annotate(HttpApi.ParseOptions, { errors: "all" }) {}
