/**
 * The session store's contract: the shape every backend implements ({@link Service}) and the values
 * it takes and returns. It lives apart from `SessionStore.ts` so that the backends in `internal/`
 * can name these types without importing the module that builds their layers;
 * `SessionStore.ts` re-exports every one of them unchanged.
 * @since 0.2.0
 */
import type { Effect, Schema } from "effect"
import type * as Message from "../core/Message.js"
import type * as Usage from "../core/Usage.js"
import type { AskEnd, DataRef, Step, StoredEvent, StoredHandle, WaitingApproval } from "./Step.js"
import type { StoreError } from "./StoreError.js"

// models

/**
 * Which session: its tenant and its id (ids are per tenant).
 * @since 0.2.0
 */
export interface SessionKey {
  readonly tenant: string
  readonly id: string
}

/**
 * What `list` shows of a session.
 * @since 0.2.0
 */
export interface SessionInfo extends SessionKey {
  /** When it was created (ms since the epoch). */
  readonly createdAt: number
  /** When it was last created or committed to (ms since the epoch). */
  readonly updatedAt: number
  /** The session it was forked from, and that session's last commit at the time. */
  readonly forkedFrom?: { readonly id: string; readonly seq: number } | undefined
  /** Metadata given at `create` (a title, a user id). */
  readonly metadata?: Schema.JsonObject | undefined
}

/**
 * A loaded session: the fold of its commits.
 * @since 0.2.0
 */
export interface StoredSession extends SessionInfo {
  /** The number of its last commit (0 before any): pass it as `expectedSeq` to detect another writer. */
  readonly seq: number
  /** The conversation, valid to send (see the `SessionStore` module comment). */
  readonly history: Message.History
  /** Usage summed over every committed turn and usage step. */
  readonly usage: Usage.Usage
  readonly options: Schema.Json
  /** The handles in the order they were first put. */
  readonly handles: ReadonlyArray<StoredHandle>
  /**
   * The tool calls of the last turn waiting for approval (a durable pause), each with its
   * decision once decided (`ApprovalDecided`): while there are any, `history` leaves that turn's
   * unanswered calls open (see `ApprovalRequested`).
   */
  readonly approvals: ReadonlyArray<WaitingApproval>
}

/**
 * Options of `create`.
 * @since 0.2.0
 */
export interface CreateOptions {
  /** The session id (letters, digits, `_`, `-`; at most 128); a random UUID when absent. */
  readonly id?: string | undefined
  readonly options?: Schema.Json | undefined
  readonly metadata?: Schema.JsonObject | undefined
}

/**
 * Options of `commit`.
 * @since 0.2.0
 */
export interface CommitOptions {
  /**
   * The `seq` the session must be at: the commit fails with `Conflict` (and writes nothing) when
   * another writer committed since. Without it, commits from several writers interleave.
   */
  readonly expectedSeq?: number | undefined
}

/**
 * An ask's event log as `asks` lists it.
 * @since 0.2.0
 */
export interface AskInfo {
  readonly askId: string
  readonly startedAt: number
  /** The id of its last event (0 before any). */
  readonly lastEventId: number
  /** How it ended; absent while it runs, or when its process died before it ended. */
  readonly end?: AskEnd | undefined
}

/**
 * Events of one ask read from a position.
 * @since 0.2.0
 */
export interface EventsPage {
  readonly askId: string
  /** The events after the position asked for, in order. */
  readonly events: ReadonlyArray<StoredEvent>
  /** How the ask ended: when set, `events` is the rest of the log. */
  readonly end?: AskEnd | undefined
}

/**
 * Options of `importData`.
 * @since 0.2.0
 */
export interface ImportOptions {
  /** The file format, its extension in the store (default `parquet`). */
  readonly format?: string | undefined
  /** Move the file into the store instead of copying it (a file written for this purpose). */
  readonly move?: boolean | undefined
}

/**
 * The store's operations.
 * @since 0.2.0
 */
export interface Service {
  /** Creates an empty session; `AlreadyExists` when the tenant has the id. */
  readonly create: (tenant: string, options?: CreateOptions) => Effect.Effect<StoredSession, StoreError>
  /** Loads a session (resume); `NotFound` when the tenant has no such session. */
  readonly load: (key: SessionKey) => Effect.Effect<StoredSession, StoreError>
  /** The tenant's sessions, ordered by id; `after` (an id) and `limit` page through them. */
  readonly list: (
    tenant: string,
    options?: { readonly after?: string | undefined; readonly limit?: number | undefined }
  ) => Effect.Effect<ReadonlyArray<SessionInfo>, StoreError>
  /** Deletes a session, its event logs and its data files (files shared with forks stay theirs). */
  readonly delete: (key: SessionKey) => Effect.Effect<void, StoreError>
  /**
   * Copies a session under a new id in the same tenant: history, usage, options, handles and
   * metadata; data files are shared, not copied (they are immutable). Event logs are not copied.
   */
  readonly fork: (
    key: SessionKey,
    options?: { readonly id?: string | undefined }
  ) => Effect.Effect<StoredSession, StoreError>
  /**
   * Commits steps in one transaction; returns the new `seq`. Fails with `InvalidStep` (nothing
   * written) when a step would make the history invalid for the API.
   */
  readonly commit: (
    key: SessionKey,
    steps: Step | ReadonlyArray<Step>,
    options?: CommitOptions
  ) => Effect.Effect<number, StoreError>
  /**
   * Appends events (JSON) to an ask's log, starting the log on its first call; returns the id of
   * the last one. Starting a log drops the session's oldest logs beyond `asksPerSession`.
   * Appends are ordered but not flushed to disk one by one: a process crash keeps them, an OS
   * crash may lose the last ones (committed steps are always flushed).
   */
  readonly appendEvents: (
    key: SessionKey,
    askId: string,
    events: ReadonlyArray<Schema.Json>
  ) => Effect.Effect<number, StoreError>
  /** Records how an ask ended; later appends to it fail. */
  readonly endAsk: (key: SessionKey, askId: string, end: AskEnd) => Effect.Effect<void, StoreError>
  /** The events of an ask after `after` (an event id; 0 or absent: from the start). */
  readonly readEvents: (
    key: SessionKey,
    askId: string,
    options?: { readonly after?: number | undefined }
  ) => Effect.Effect<EventsPage, StoreError>
  /** The session's retained ask logs, oldest first. */
  readonly asks: (key: SessionKey) => Effect.Effect<ReadonlyArray<AskInfo>, StoreError>
  /**
   * Puts a file (Parquet written by DuckDB) into the session's data: hashed, made durable, named by
   * its hash. Returns the reference to store in a handle's `data`.
   */
  readonly importData: (key: SessionKey, file: string, options?: ImportOptions) => Effect.Effect<DataRef, StoreError>
  /** The absolute path of a session's data file, to read it; `NotFound` when it is not there. */
  readonly dataPath: (key: SessionKey, ref: DataRef) => Effect.Effect<string, StoreError>
}

/**
 * Options shared by the layers.
 * @since 0.2.0
 */
export interface Options {
  /** How many ask event logs each session keeps (the most recent; default 20). */
  readonly asksPerSession?: number | undefined
}
