// @ts-check
/** @import { LogEvent } from "./types.js" */
/**
 * Reading an ask's events over `fetch` (EventSource can neither POST nor resume a POST), and
 * following the ask to its `ask_end` across dropped connections: after a drop the page asks
 * `GET .../events` with `Last-Event-ID` set to the last id it saw, and gets exactly what it missed.
 */
import { ApiError, failure } from "./api.js"

/** No bytes for this long (the server writes a keep-alive comment every 15 s) means the connection is dead. */
const IDLE_MS = 45_000

/**
 * Parses the complete SSE records at the start of `text`, calling `onEvent` for each; returns
 * the unfinished rest. Comments (`: keepalive`) are skipped.
 * @param {string} text
 * @param {(event: LogEvent) => void} onEvent
 * @returns {string}
 */
export const parse = (text, onEvent) => {
  const records = text.replaceAll("\r\n", "\n").split("\n\n")
  const rest = records.pop() ?? ""
  for (const record of records) {
    /** @type {number | undefined} */
    let id
    let event = "message"
    /** @type {Array<string>} */
    const data = []
    for (const line of record.split("\n")) {
      if (line.length === 0 || line.startsWith(":")) continue
      const colon = line.indexOf(":")
      const field = colon < 0 ? line : line.slice(0, colon)
      const value = colon < 0 ? "" : line.slice(colon + 1).replace(/^ /, "")
      if (field === "id") id = Number(value)
      else if (field === "event") event = value
      else if (field === "data") data.push(value)
    }
    if (data.length > 0) onEvent({ id, event, data: JSON.parse(data.join("\n")) })
  }
  return rest
}

/**
 * Reads an event-stream response to its end. A stall longer than {@link IDLE_MS} aborts it.
 * @param {Response} response
 * @param {(event: LogEvent) => void} onEvent
 * @param {AbortController} controller aborts the request
 */
const read = async (response, onEvent, controller) => {
  if (response.body === null) return
  const reader = response.body.getReader()
  const decoder = new TextDecoder()
  let buffer = ""
  let timer = setTimeout(() => controller.abort(), IDLE_MS)
  try {
    for (;;) {
      const { done, value } = await reader.read()
      clearTimeout(timer)
      if (done) return
      timer = setTimeout(() => controller.abort(), IDLE_MS)
      buffer = parse(buffer + decoder.decode(value, { stream: true }), onEvent)
    }
  } finally {
    clearTimeout(timer)
  }
}

const sleep = (/** @type {number} */ ms) => new Promise((resolve) => setTimeout(resolve, ms))

/**
 * @typedef {object} FollowOptions
 * @property {(signal: AbortSignal) => Promise<Response>} first the first request: the ask itself, or the events of a running one
 * @property {(after: number | undefined, signal: AbortSignal) => Promise<Response>} resume the events after an id
 * @property {number | undefined} after the last id seen before `first`
 * @property {(event: LogEvent) => void} onEvent every event, once
 * @property {(status: { kind: "streaming" } | { kind: "reconnecting", delayMs: number }) => void} onStatus
 * @property {(after: number | undefined) => Promise<boolean>} pending whether an ask may still send events after `after` (true when unsure)
 */

/**
 * Follows an ask until its `ask_end`: reads `first`, and whenever the connection drops or ends
 * early, waits (0.5 s, doubling to 8 s) and resumes after the last id seen. Resolves `"ended"`
 * at the `ask_end`, or `"none"` when there is nothing to follow (no ask started, or it ended
 * before the first request); rejects with the `ApiError` of an answer that retrying cannot fix
 * (a 4xx: the session is gone, an ask is already running, the events expired).
 * @param {FollowOptions} options
 * @returns {Promise<"ended" | "none">}
 */
export const follow = async ({ first, resume, after, onEvent, onStatus, pending }) => {
  let last = after
  let ended = false
  let attempt = 0
  let open = first
  for (;;) {
    const controller = new AbortController()
    let received = 0
    try {
      const response = await open(controller.signal)
      if (!response.ok) {
        const error = await failure(response)
        if (error.status < 500) throw error
      } else {
        onStatus({ kind: "streaming" })
        await read(
          response,
          (event) => {
            received++
            attempt = 0
            if (event.id !== undefined) last = event.id
            if (event.data.type === "ask_end") ended = true
            onEvent(event)
          },
          controller
        )
      }
    } catch (error) {
      if (error instanceof ApiError) throw error
      // a network failure: resume below
    }
    if (ended) return "ended"
    if (received === 0 && !(await pending(last))) return "none"
    const delayMs = Math.min(500 * 2 ** attempt++, 8_000)
    onStatus({ kind: "reconnecting", delayMs })
    await sleep(delayMs)
    open = (signal) => resume(last, signal)
  }
}
