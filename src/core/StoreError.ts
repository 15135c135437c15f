/**
 * The typed error of a session store.
 *
 * | reason | when | retryable |
 * | --- | --- | --- |
 * | `NotFound` | no session (or ask, or data file) of that id for this tenant; another tenant's ids are `NotFound` too | no |
 * | `AlreadyExists` | `create` with an id the tenant already has | no |
 * | `InvalidInput` | a malformed tenant, session id or ask id; a value that is not JSON; a step that does not match its Schema | no |
 * | `InvalidStep` | a step that would make the stored history invalid for the API (a tool result for no pending `tool_use`, an assistant turn first) | no |
 * | `Conflict` | `commit` with `expectedSeq` while another writer committed first | no (reload, then decide) |
 * | `Corrupt` | stored data that does not decode (a damaged file or row) | no |
 * | `Locked` | the data directory is open in another process | no |
 * | `Unavailable` | the database connection was lost or refused, a deadlock or serialization conflict | yes |
 * | `Io` | the file system failed (disk full, permissions) | no |
 *
 * @example
 * ```ts
 * const session = yield* store.load({ tenant, id }).pipe(
 *   Effect.catchTag("StoreError", (error) =>
 *     error.reason === "NotFound" ? store.create(tenant, { id }) : Effect.fail(error))
 * )
 * ```
 * @since 0.2.0
 */
import { Schema } from "effect"

/**
 * Why a store operation failed.
 * @since 0.2.0
 */
export const StoreErrorReason = Schema.Literals([
  "NotFound",
  "AlreadyExists",
  "InvalidInput",
  "InvalidStep",
  "Conflict",
  "Corrupt",
  "Locked",
  "Unavailable",
  "Io"
])
/** @since 0.2.0 */
export type StoreErrorReason = typeof StoreErrorReason.Type

/**
 * A session store operation failed; `reason` says why and `message` what to do.
 * @since 0.2.0
 */
export class StoreError extends Schema.TaggedError<StoreError>()("StoreError", {
  reason: StoreErrorReason,
  message: Schema.String,
  tenant: Schema.optionalKey(Schema.String),
  sessionId: Schema.optionalKey(Schema.String),
  cause: Schema.optionalKey(Schema.Defect())
}) {
  /** Whether the same operation may succeed if tried again: only a lost or busy database. */
  get isRetryable(): boolean {
    return this.reason === "Unavailable"
  }
}
