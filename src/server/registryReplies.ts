/**
 * What the registry answers with besides sessions: its errors (each saying what to do), the
 * `ask_end` of an ask cut off by a stopped server, ids and an ask's usage.
 * @internal
 */
import { randomBytes } from "node:crypto"
import type { Usage } from "../index.js"
import { AskInProgress, SessionNotFound, TooManyRequests } from "./ApiError.js"
import * as EventLog from "./EventLog.js"
import type * as ServerEvent from "./ServerEvent.js"

/** The `ask_end` of an ask whose process stopped before it ended (found when its session is loaded again). */
export const cutOff = (askId: string): ServerEvent.AskEnd => ({
  type: "ask_end",
  ask_id: askId,
  status: "interrupted",
  usage: { input_tokens: 0, output_tokens: 0, cache_read_input_tokens: 0, cache_creation_input_tokens: 0 },
  error: {
    _tag: "ServerStopped",
    message:
      "The server stopped while this ask ran. Every step it committed is in the session's history; ask again to go on.",
    retryable: true
  }
})

export const newId = (prefix: string) => `${prefix}_${randomBytes(12).toString("base64url")}`

export const usageOf = (before: Usage.Usage, after: Usage.Usage): ServerEvent.AskUsage => ({
  input_tokens: after.inputTokens - before.inputTokens,
  output_tokens: after.outputTokens - before.outputTokens,
  cache_read_input_tokens: after.cacheReadTokens - before.cacheReadTokens,
  cache_creation_input_tokens: after.cacheWriteTokens - before.cacheWriteTokens
})

export const notFound = (id: string) =>
  new SessionNotFound({
    session_id: id,
    message: `No session ${id}: it was deleted, or never existed for this token. Create one with POST /v1/sessions.`
  })

export const inProgress = (id: string, askId: string) =>
  new AskInProgress({
    ask_id: askId,
    message:
      `Session ${id} is running ask ${askId}. Wait for its ask_end ` +
      `(GET /v1/sessions/${id}/events) or interrupt it (POST /v1/sessions/${id}/interrupt).`
  })

export const tooManyAsks = (limit: number) =>
  new TooManyRequests({
    limit,
    message: `This token is running ${limit} asks, its limit; wait for one to end or interrupt one.`
  })

export const tooManySessions = (limit: number) =>
  new TooManyRequests({
    limit,
    message: `This token already holds ${limit} sessions, its limit; delete one first.`
  })

export const expired = (id: string, after: number, oldest: number) =>
  new EventLog.EventsExpired({
    after,
    oldest,
    message:
      `The events after id ${after} are no longer kept (the oldest kept is ${oldest}). ` +
      `Read the session's history (GET /v1/sessions/${id}/history), or resume from a newer id.`
  })
