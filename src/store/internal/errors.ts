/**
 * Validation of tenants and ids, the JSON codec of stored records, and the `StoreError`s every
 * layer raises the same way.
 */
import { Effect, Schema } from "effect"
import type { Step } from "../Step.js"
import { StoreError, type StoreErrorReason } from "../StoreError.js"
import type { SessionKey } from "../service.js"

const ID = /^[A-Za-z0-9_-]{1,128}$/

const where = (key: SessionKey | undefined) => (key === undefined ? {} : { tenant: key.tenant, sessionId: key.id })

export const fail = (reason: StoreErrorReason, message: string, key?: SessionKey, cause?: unknown) =>
  new StoreError({ reason, message, ...where(key), ...(cause !== undefined ? { cause } : {}) })

export const notFound = (key: SessionKey) =>
  fail("NotFound", `Tenant "${key.tenant}" has no session "${key.id}": check the id, or create it first.`, key)

export const alreadyExists = (key: SessionKey) =>
  fail(
    "AlreadyExists",
    `Tenant "${key.tenant}" already has a session "${key.id}": load it, or create one with another id.`,
    key
  )

export const askNotFound = (key: SessionKey, askId: string) =>
  fail(
    "NotFound",
    `Session "${key.id}" has no event log for ask "${askId}": it never started, or it is older than the retained asks.`,
    key
  )

/** Fails unless the tenant is a non-empty string of at most 128 UTF-8 bytes. */
export const checkTenant = (tenant: unknown): StoreError | undefined => {
  if (typeof tenant !== "string" || tenant.length === 0 || Buffer.byteLength(tenant) > 128) {
    return fail("InvalidInput", `The tenant must be a non-empty string of at most 128 bytes, not ${show(tenant)}.`)
  }
  return undefined
}

/** Fails unless the id (of a session or an ask) is 1-128 letters, digits, `_` or `-`. */
export const checkId = (what: "session" | "ask", id: unknown): StoreError | undefined =>
  typeof id === "string" && ID.test(id)
    ? undefined
    : fail("InvalidInput", `A ${what} id must be 1-128 letters, digits, "_" or "-" (e.g. a UUID), not ${show(id)}.`)

/** Validates a key, then runs `f`. */
export const withKey = <A>(
  key: SessionKey,
  f: () => Effect.Effect<A, StoreError>,
  askId?: string
): Effect.Effect<A, StoreError> => {
  const error =
    checkTenant(key?.tenant) ?? checkId("session", key?.id) ?? (askId === undefined ? undefined : checkId("ask", askId))
  return error === undefined ? Effect.suspend(f) : Effect.fail(error)
}

const show = (value: unknown): string => {
  if (typeof value === "string") return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}...` : value)
  return value === null ? "null" : typeof value
}

/** Encodes a value with a Schema to JSON text, or `InvalidInput` naming what is wrong. */
export const encodeJson = <S extends Schema.Top>(
  schema: S,
  what: string
): ((value: S["Type"], key?: SessionKey) => Effect.Effect<string, StoreError>) => {
  const encode = Schema.encodeUnknownEffect(schema as unknown as Schema.Codec<S["Type"], unknown>)
  return (value, key) =>
    encode(value).pipe(
      Effect.map((encoded) => JSON.stringify(encoded)),
      Effect.mapError((error) => fail("InvalidInput", `${what} cannot be stored: ${error.message}`, key, error))
    ) as Effect.Effect<string, StoreError>
}

/** Decodes a stored JSON value with a Schema, or `Corrupt` naming where it was stored. */
export const decodeStored = <S extends Schema.Top>(
  schema: S
): ((json: unknown, where: string, key?: SessionKey) => Effect.Effect<S["Type"], StoreError>) => {
  const decode = Schema.decodeUnknownEffect(schema as unknown as Schema.Codec<S["Type"], unknown>)
  return (json, at, key) =>
    decode(json).pipe(
      Effect.mapError((error) =>
        fail(
          "Corrupt",
          `Stored data at ${at} does not decode (${error.message}); restore it from a backup or delete the session.`,
          key,
          error
        )
      )
    ) as Effect.Effect<S["Type"], StoreError>
}

/** A Node file-system error as `Io`. */
export const io =
  (operation: string, key?: SessionKey) =>
  (cause: unknown): StoreError =>
    fail(
      "Io",
      `The store could not ${operation}: ${cause instanceof Error ? cause.message : String(cause)}. ` +
        "Check the directory's free space and permissions.",
      key,
      cause
    )

/** Whether a Node error is a missing file. */
export const isMissing = (cause: unknown): boolean => (cause as { readonly code?: unknown })?.code === "ENOENT"

/** The steps of a commit given as one step or a list. */
export const stepsOf = (steps: Step | ReadonlyArray<Step>): ReadonlyArray<Step> =>
  Array.isArray(steps) ? (steps as ReadonlyArray<Step>) : [steps as Step]
