// @ts-check
/**
 * The types the page's scripts share (checked by `npm run typecheck`; this module has no code).
 * The events are the server's: see `ServerEvent` and `StreamEvent` in the library.
 *
 * @typedef {{ readonly id: number | undefined, readonly event: string, readonly data: ServerEvent }} LogEvent
 *   One event of a session's log, as read off the wire.
 *
 * @typedef {{ readonly type: "text", readonly text: string }
 *   | { readonly type: "tool_use", readonly id: string, readonly name: string, readonly input: unknown }
 *   | { readonly type: "thinking", readonly thinking: string }
 *   | { readonly type: "tool_result", readonly tool_use_id: string, readonly content: string | ReadonlyArray<{ readonly type: string, readonly text?: string }>, readonly is_error?: boolean }
 *   | { readonly type: "other" }} ContentBlock
 *
 * @typedef {{ readonly type: "text_delta", readonly text: string }
 *   | { readonly type: "input_json_delta", readonly partial_json: string }
 *   | { readonly type: "thinking_delta", readonly thinking: string }
 *   | { readonly type: "other" }} Delta
 *
 * @typedef {{ readonly type: "ask_start", readonly ask_id: string, readonly prompt: string, readonly resumed?: boolean }
 *   | { readonly type: "ask_end", readonly ask_id: string, readonly status: string, readonly error?: { readonly _tag: string, readonly message: string } }
 *   | { readonly type: "message_start" }
 *   | { readonly type: "content_block_start", readonly index: number, readonly content_block: ContentBlock }
 *   | { readonly type: "content_block_delta", readonly index: number, readonly delta: Delta }
 *   | { readonly type: "content_block_stop", readonly index: number }
 *   | { readonly type: "message_delta" }
 *   | { readonly type: "message_stop" }
 *   | { readonly type: "tool_result", readonly tool_use_id: string, readonly tool_name: string, readonly content: string | ReadonlyArray<unknown>, readonly is_error: boolean }
 *   | { readonly type: "discard", readonly attempt: number, readonly reason: string }
 *   | ({ readonly type: "approval_request" } & WaitingCall)
 *   | { readonly type: "error", readonly error: { readonly _tag: string, readonly message: string } }} ServerEvent
 *
 * @typedef {{ readonly tool_use_id: string, readonly tool_name: string, readonly input: unknown, readonly reason?: string }} WaitingCall
 *   A tool call waiting for a person's decision: what its `approval_request` event says, and what
 *   `GET /v1/sessions/{id}/approvals` lists (with `requested_at`).
 *
 * @typedef {{ readonly decision: "approve" } | { readonly decision: "deny", readonly reason?: string }} Decision
 *   What the page posts to `POST /v1/sessions/{id}/approvals/{tool_use_id}`.
 *
 * @typedef {{ readonly tool_use_id: string, readonly decision: "approve" | "deny", readonly ask_id: string | null }} Decided
 *   The answer to a decision: the ask that goes on with it (one it started, when no ask ran).
 *
 * @typedef {{ readonly role: "user" | "assistant", readonly content: ReadonlyArray<ContentBlock> }} Message
 *
 * @typedef {{ readonly id: string, readonly running_ask: string | null, readonly last_event_id: number }} SessionInfo
 *
 * @typedef {{
 *   readonly name: string,
 *   readonly description?: string,
 *   readonly query?: string,
 *   readonly snapshot: {
 *     readonly kind: string,
 *     readonly rows?: number,
 *     readonly length?: number,
 *     readonly columns?: ReadonlyArray<{ readonly name: string, readonly type: string }>,
 *     readonly sample?: ReadonlyArray<unknown>
 *   }
 * }} HandleInfo
 *
 * @typedef {{
 *   readonly tenant: string,
 *   readonly provider: string,
 *   readonly model: string,
 *   readonly samples: ReadonlyArray<{ readonly name: string, readonly file: string, readonly description?: string }>
 * }} Me
 */
/**
 * A tool call on the page: its section, the tool's name, where its input and result show.
 * @typedef {object} ToolCard
 * @property {HTMLElement} element
 * @property {string} id the call's `tool_use_id`
 * @property {string} name
 * @property {HTMLElement} input
 * @property {HTMLElement} result
 * @property {string} json the input JSON as streamed so far
 */
export {}
