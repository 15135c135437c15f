/**
 * data-harness/server: the HTTP server of data-harness (the session API with resumable event
 * streams, the Anthropic-compatible `POST /v1/messages`, bearer-token tenancy).
 * @since 0.2.0
 */
export * as ApiError from "./ApiError.js"
export * as EventLog from "./EventLog.js"
export * as Server from "./Server.js"
export * as ServerApi from "./ServerApi.js"
export * as ServerEvent from "./ServerEvent.js"
export * as ServerSessions from "./ServerSessions.js"
export * as SessionApi from "./SessionApi.js"
export * as Tenancy from "./Tenancy.js"
