/**
 * The typed error of a session store: {@link StoreError} and its {@link StoreErrorReason}s (see
 * `core/StoreError.ts`, where it lives so that `HarnessError` can name it: an ask with a session
 * store fails with it when a commit cannot be written).
 * @since 0.2.0
 */
export { StoreError, StoreErrorReason } from "../core/StoreError.js"
