// @ts-check
/** @import { Decided, Decision, HandleInfo, Me, Message, SessionInfo, WaitingCall } from "./types.js" */
/**
 * The calls the page makes: the session API (`/v1/sessions/...`) and the page's own routes
 * (`/web/...`). The token travels as the `dh_token` cookie set at sign-in, so no script ever holds it.
 */

/** An error answer of the server: its status, `_tag` and message. */
export class ApiError extends Error {
  /**
   * @param {number} status
   * @param {string} tag
   * @param {string} message
   */
  constructor(status, tag, message) {
    super(message)
    this.status = status
    this.tag = tag
  }
}

/**
 * The error a non-2xx response stands for.
 * @param {Response} response
 * @returns {Promise<ApiError>}
 */
export const failure = async (response) => {
  /** @type {{ _tag?: string, message?: string }} */
  let body = {}
  try {
    body = await response.json()
  } catch {}
  return new ApiError(response.status, body._tag ?? `HTTP ${response.status}`, body.message ?? response.statusText)
}

/**
 * A JSON call; resolves to the parsed body (undefined for 204), rejects with an `ApiError`.
 * @param {string} path
 * @param {RequestInit} [init]
 * @returns {Promise<any>}
 */
const call = async (path, init = {}) => {
  const response = await fetch(path, {
    credentials: "same-origin",
    ...init,
    headers: { accept: "application/json", ...init.headers }
  })
  if (!response.ok) throw await failure(response)
  return response.status === 204 ? undefined : response.json()
}

const jsonBody = (/** @type {unknown} */ value) => ({
  headers: { "content-type": "application/json" },
  body: JSON.stringify(value)
})

/** @param {string} id */
const session = (id) => `/v1/sessions/${encodeURIComponent(id)}`

/** @returns {Promise<Me>} */
export const me = () => call("/web/api/me")

/** @param {string} token */
export const login = (token) => call("/web/login", { method: "POST", ...jsonBody({ token }) })

export const logout = () => call("/web/logout", { method: "POST" })

/** @returns {Promise<SessionInfo>} */
export const createSession = () => call("/v1/sessions", { method: "POST", ...jsonBody({}) })

/**
 * @param {string} id
 * @returns {Promise<SessionInfo>}
 */
export const getSession = (id) => call(session(id))

/** @param {string} id */
export const deleteSession = (id) => call(session(id), { method: "DELETE" })

/**
 * @param {string} id
 * @returns {Promise<{ messages: ReadonlyArray<Message> }>}
 */
export const history = (id) => call(`${session(id)}/history`)

/**
 * @param {string} id
 * @returns {Promise<{ handles: ReadonlyArray<HandleInfo> }>}
 */
export const handles = (id) => call(`${session(id)}/data`)

/**
 * Uploads a file as handle `name` (or the next free name); the format comes from the file's extension.
 * @param {string} id
 * @param {string} name
 * @param {Blob} file
 * @param {string} format csv, tsv, parquet, json or jsonl
 * @returns {Promise<{ name: string, bytes: number }>}
 */
export const upload = (id, name, file, format) =>
  call(`${session(id)}/data/${encodeURIComponent(name)}?format=${encodeURIComponent(format)}`, {
    method: "PUT",
    headers: { "content-type": "application/octet-stream" },
    body: file
  })

/**
 * @param {string} id
 * @returns {Promise<{ interrupted: boolean }>}
 */
export const interrupt = (id) => call(`${session(id)}/interrupt`, { method: "POST" })

/**
 * The session's tool calls waiting for approval.
 * @param {string} id
 * @returns {Promise<{ approvals: ReadonlyArray<WaitingCall & { requested_at: string }> }>}
 */
export const approvals = (id) => call(`${session(id)}/approvals`)

/**
 * Approves or denies a waiting call; a call that does not wait (any more) is a 409 `ApprovalNotPending`.
 * @param {string} id
 * @param {string} toolUseId
 * @param {Decision} decision
 * @returns {Promise<Decided>}
 */
export const decide = (id, toolUseId, decision) =>
  call(`${session(id)}/approvals/${encodeURIComponent(toolUseId)}`, { method: "POST", ...jsonBody(decision) })

/**
 * The Vega-Lite spec (with its data) of the chart kept as handle `name`.
 * @param {string} id
 * @param {string} name
 * @returns {Promise<any>}
 */
export const chart = (id, name) =>
  call(`/web/api/sessions/${encodeURIComponent(id)}/charts/${encodeURIComponent(name)}`)

/**
 * A sample dataset's file.
 * @param {string} name
 * @returns {Promise<Blob>}
 */
export const sample = async (name) => {
  const response = await fetch(`/web/api/samples/${encodeURIComponent(name)}`, { credentials: "same-origin" })
  if (!response.ok) throw await failure(response)
  return response.blob()
}

/**
 * Starts an ask; the response is its event stream.
 * @param {string} id
 * @param {string} prompt
 * @param {AbortSignal} signal
 */
export const ask = (id, prompt, signal) =>
  fetch(`${session(id)}/asks`, {
    method: "POST",
    credentials: "same-origin",
    headers: { "content-type": "application/json", accept: "text/event-stream" },
    body: JSON.stringify({ prompt }),
    signal
  })

/**
 * The session's events after `after` (by `Last-Event-ID`), or from the running ask's start.
 * @param {string} id
 * @param {number | undefined} after
 * @param {AbortSignal} signal
 */
export const events = (id, after, signal) =>
  fetch(`${session(id)}/events`, {
    credentials: "same-origin",
    headers: { accept: "text/event-stream", ...(after === undefined ? {} : { "last-event-id": String(after) }) },
    signal
  })
