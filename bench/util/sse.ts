/**
 * Anthropic Messages SSE, rendered to bytes for the bench server: one text block of `n` text
 * deltas framed by `message_start` (with a `ping`), `content_block_start`, `content_block_stop`,
 * `message_delta` and `message_stop`, exactly as the API streams a text answer.
 * @since 0.1.0
 */

/**
 * The text of every delta of the throughput benchmarks: a word, as a model streams it.
 * @since 0.1.0
 */
export const DELTA_TEXT = "word "

/**
 * The events a stream of `n` deltas carries besides the deltas, as a consumer that skips `ping`
 * sees them: `message_start`, `content_block_start`, `content_block_stop`, `message_delta`,
 * `message_stop`.
 * @since 0.1.0
 */
export const FRAME_EVENTS = 5

const frame = (event: { readonly type: string; readonly [key: string]: unknown }): string =>
  `event: ${event.type}\ndata: ${JSON.stringify(event)}\n\n`

/**
 * The events before the first delta: `message_start`, `ping`, `content_block_start`.
 * @since 0.1.0
 */
export const head = (id: string, model: string): string =>
  frame({
    type: "message_start",
    message: {
      id,
      type: "message",
      role: "assistant",
      model,
      content: [],
      stop_reason: null,
      stop_sequence: null,
      usage: { input_tokens: 12, output_tokens: 1, cache_read_input_tokens: 0, cache_creation_input_tokens: 0 }
    }
  }) +
  frame({ type: "ping" }) +
  frame({ type: "content_block_start", index: 0, content_block: { type: "text", text: "" } })

/**
 * One text delta.
 * @since 0.1.0
 */
export const delta = (text: string): string =>
  frame({ type: "content_block_delta", index: 0, delta: { type: "text_delta", text } })

/**
 * The events after the last delta: `content_block_stop`, `message_delta`, `message_stop`.
 * @since 0.1.0
 */
export const tail = (outputTokens: number): string =>
  frame({ type: "content_block_stop", index: 0 }) +
  frame({
    type: "message_delta",
    delta: { stop_reason: "end_turn", stop_sequence: null },
    usage: { output_tokens: outputTokens }
  }) +
  frame({ type: "message_stop" })

/**
 * A whole response of `n` identical deltas as one buffer (the deltas are laid down with
 * `Buffer.fill`, so even 1,000,000 of them render in milliseconds).
 * @since 0.1.0
 */
export const render = (n: number, id: string, model: string, text: string = DELTA_TEXT): Buffer => {
  const start = Buffer.from(head(id, model))
  const one = Buffer.from(delta(text))
  const end = Buffer.from(tail(n))
  const out = Buffer.allocUnsafe(start.length + one.length * n + end.length)
  start.copy(out, 0)
  if (n > 0) out.fill(one, start.length, start.length + one.length * n)
  end.copy(out, start.length + one.length * n)
  return out
}
