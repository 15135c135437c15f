/**
 * Where a log store's logs live: the one thing the embedded store and the memory store implement
 * differently (see `logStore.ts`). Its own module so that `askLogs.ts` can name it without
 * importing `logStore.ts`, which imports it.
 */
import type { Effect } from "effect"
import type { StoreError } from "../StoreError.js"
import type * as SessionStore from "../service.js"
import type { Blobs } from "./blobs.js"

/** Where the logs live. Lines never contain a newline. */
export interface Backend {
  /** A session log's lines, header first (a torn last line dropped); `undefined` when absent. */
  readonly read: (key: SessionStore.SessionKey) => Effect.Effect<ReadonlyArray<string> | undefined, StoreError>
  readonly exists: (key: SessionStore.SessionKey) => Effect.Effect<boolean, StoreError>
  /** Creates a session log with these lines, atomically; `false` when it exists. */
  readonly create: (key: SessionStore.SessionKey, lines: ReadonlyArray<string>) => Effect.Effect<boolean, StoreError>
  /** Appends one line to an existing session log, durably, before it returns. */
  readonly append: (key: SessionStore.SessionKey, line: string) => Effect.Effect<void, StoreError>
  /** Removes a session log and its ask logs; `false` when it did not exist. */
  readonly remove: (key: SessionStore.SessionKey) => Effect.Effect<boolean, StoreError>
  /** The header line and last-change time of each of a tenant's sessions. */
  readonly list: (
    tenant: string
  ) => Effect.Effect<ReadonlyArray<{ readonly header: string; readonly updatedAt: number }>, StoreError>
  readonly readAsk: (
    key: SessionStore.SessionKey,
    askId: string
  ) => Effect.Effect<ReadonlyArray<string> | undefined, StoreError>
  /** Appends lines to an ask log (made when missing), flushed to disk only when `durable`. */
  readonly appendAsk: (
    key: SessionStore.SessionKey,
    askId: string,
    lines: ReadonlyArray<string>,
    durable: boolean
  ) => Effect.Effect<void, StoreError>
  readonly listAsks: (key: SessionStore.SessionKey) => Effect.Effect<ReadonlyArray<string>, StoreError>
  readonly removeAsk: (key: SessionStore.SessionKey, askId: string) => Effect.Effect<void, StoreError>
  readonly blobs: Blobs
}
