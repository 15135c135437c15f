/**
 * The server sessions' contract: the shape of the service ({@link Service}), the sessions it holds
 * and its options. It lives apart from `ServerSessions.ts` so that `registry.ts`, which that
 * module builds on, can name these types without importing it; `ServerSessions.ts` re-exports
 * them unchanged.
 * @since 0.2.0
 */
import type { Effect, Scope, Stream } from "effect"
import type { Agent, Approval, Provider, Session } from "../index.js"
import type { AskInProgress, SessionNotFound, TooManyRequests } from "./ApiError.js"
import type * as EventLog from "./EventLog.js"
import type { Limits } from "./Tenancy.js"

/**
 * A session held by the server.
 * @since 0.2.0
 */
export interface ServerSession {
  readonly id: string
  readonly tenant: string
  readonly createdAt: Date
  readonly system: string | undefined
  readonly session: Session.Session
  /** Where its uploads are written (removed with the session). */
  readonly directory: string
  /** The id of the ask running now. */
  readonly runningAsk: () => string | undefined
  /** Its event log stream (`EventLog.sessionStream(tenant, id)`). */
  readonly stream: string
  /**
   * Where an uploaded file (written for this purpose) is kept: with a session store, moved into
   * the session's data there (so the handle outlives a restart); the path to put.
   */
  readonly keepUpload: (file: string, format: string) => Effect.Effect<string>
}

/**
 * An ask the server accepted: its id and the log id of its `ask_start`.
 * @since 0.2.0
 */
export interface AcceptedAsk {
  readonly askId: string
  readonly startId: number
}

/**
 * The sessions service.
 * @since 0.2.0
 */
export interface Service {
  readonly create: (
    tenant: string,
    options?: { readonly system?: string | undefined }
  ) => Effect.Effect<ServerSession, TooManyRequests>
  readonly get: (tenant: string, id: string) => Effect.Effect<ServerSession, SessionNotFound>
  readonly list: (tenant: string) => Effect.Effect<ReadonlyArray<ServerSession>>
  /** Interrupts its ask, releases its agent session and removes its uploads and its events. */
  readonly remove: (tenant: string, id: string) => Effect.Effect<void, SessionNotFound>
  /** Starts an ask that runs on in the session's scope; its events go to the log. */
  readonly ask: (
    tenant: string,
    id: string,
    prompt: string
  ) => Effect.Effect<AcceptedAsk, SessionNotFound | AskInProgress | TooManyRequests>
  /**
   * Decides a tool call waiting for approval; when no ask runs (the one that paused ended, or the
   * server restarted), starts an ask that resumes it. The id of the ask that goes on with the call.
   */
  readonly decide: (
    tenant: string,
    id: string,
    toolUseId: string,
    decision: Approval.Decision
  ) => Effect.Effect<string, SessionNotFound | Approval.ApprovalNotPending | TooManyRequests>
  /** Interrupts the running ask and waits until it ended; the id of the ask it interrupted. */
  readonly interrupt: (tenant: string, id: string) => Effect.Effect<string | undefined, SessionNotFound>
  /**
   * The session's events after `after` (by default from the running ask's start, or from now),
   * then live ones: until the end of the first ask that ends, or with `follow` until the session
   * is deleted.
   */
  readonly events: (
    tenant: string,
    id: string,
    options: { readonly after?: number | undefined; readonly follow?: boolean | undefined }
  ) => Effect.Effect<Stream.Stream<EventLog.Entry, EventLog.EventsExpired>, SessionNotFound | EventLog.EventsExpired>
  /** Holds one of the tenant's ask slots for the scope's life (`/v1/messages` asks count too). */
  readonly askSlot: (tenant: string) => Effect.Effect<void, TooManyRequests, Scope.Scope>
  /** The provider the sessions use. */
  readonly provider: Provider.Info
  readonly limits: Limits
}

/**
 * Options of `ServerSessions.layer`.
 * @since 0.2.0
 */
export interface Options {
  /** The system prompt of a session created without one. */
  readonly system?: string | undefined
  /** The agent every session runs (tools, `maxTurns`, timeouts, retries); `system` comes per session. */
  readonly agent?: Omit<Agent.Options<never>, "system"> | undefined
  readonly limits?: Partial<Limits> | undefined
  /** Where session directories are made (default: a new directory under the OS temp dir, removed at shutdown). */
  readonly directory?: string | undefined
}
