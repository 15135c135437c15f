/**
 * The records every layer stores, as Schemas: a session's header, a commit, the lines of an ask's
 * event log; and the `SessionInfo` of a header.
 */
import { Effect, Schema } from "effect"
import { AskEnd, type Step, Steps } from "../Step.js"
import type { StoreError } from "../StoreError.js"
import type * as SessionStore from "../service.js"
import { decodeStored, encodeJson, fail } from "./errors.js"
import { Folder, type Tail } from "./fold.js"

export const Header = Schema.Struct({
  v: Schema.Literal(1),
  tenant: Schema.String,
  id: Schema.String,
  createdAt: Schema.Number,
  options: Schema.optionalKey(Schema.Json),
  metadata: Schema.optionalKey(Schema.JsonObject),
  forkedFrom: Schema.optionalKey(Schema.Struct({ id: Schema.String, seq: Schema.Number }))
})
export type Header = typeof Header.Type

export const Commit = Schema.Struct({ seq: Schema.Number, at: Schema.Number, steps: Steps })

export const AskLine = Schema.Union([
  Schema.Struct({ askId: Schema.String, startedAt: Schema.Number }),
  Schema.Struct({ id: Schema.Number, event: Schema.Json }),
  Schema.Struct({ end: AskEnd })
])

export const decodeHeader = decodeStored(Header)
export const decodeCommit = decodeStored(Commit)
export const decodeAskLine = decodeStored(AskLine)
export const encodeHeader = encodeJson(Header, "The session header")
export const encodeCommit = encodeJson(Commit, "The commit")
export const encodeEnd = encodeJson(Schema.Struct({ end: AskEnd }), "The end of the ask")
export const encodeSteps = encodeJson(Steps, "The steps")
export const decodeSteps = decodeStored(Steps)
export const encodeEvent = encodeJson(Schema.Struct({ id: Schema.Number, event: Schema.Json }), "An event")

export const info = (header: Header, updatedAt: number): SessionStore.SessionInfo => ({
  tenant: header.tenant,
  id: header.id,
  createdAt: header.createdAt,
  updatedAt,
  ...(header.forkedFrom !== undefined ? { forkedFrom: header.forkedFrom } : {}),
  ...(header.metadata !== undefined ? { metadata: header.metadata } : {})
})

/** The `SessionInfo` fields of a session (not its history). */
export const summaryOf = (session: SessionStore.SessionInfo): SessionStore.SessionInfo => ({
  tenant: session.tenant,
  id: session.id,
  createdAt: session.createdAt,
  updatedAt: session.updatedAt,
  ...(session.forkedFrom !== undefined ? { forkedFrom: session.forkedFrom } : {}),
  ...(session.metadata !== undefined ? { metadata: session.metadata } : {})
})

export const conflict = (key: SessionStore.SessionKey, expected: number, actual: number) =>
  fail(
    "Conflict",
    `Session "${key.id}" is at commit ${actual}, not ${expected}: another writer committed first. ` +
      "Load the session again and decide whether to redo the step.",
    key
  )

/** Parses stored JSON text, or `Corrupt` naming where it was stored. */
export const parseJson = (
  text: string,
  at: string,
  key?: SessionStore.SessionKey
): Effect.Effect<unknown, StoreError> =>
  Effect.try({
    try: () => JSON.parse(text) as unknown,
    catch: (cause) =>
      fail("Corrupt", `Stored data at ${at} is not JSON; restore it from a backup or delete the session.`, key, cause)
  })

/** A stored commit, its steps decoded. */
export interface StoredCommit {
  readonly seq: number
  readonly at: number
  readonly steps: ReadonlyArray<Step>
}

/** Folds a session's header and commits (in order) into the session and its tail. */
export const foldSession = (
  key: SessionStore.SessionKey,
  header: Header,
  commits: Iterable<StoredCommit>
): Effect.Effect<{ readonly session: SessionStore.StoredSession; readonly tail: Tail }, StoreError> =>
  Effect.suspend(() => {
    const folder = new Folder()
    if (header.options !== undefined) folder.commit(0, [{ _tag: "Options", options: header.options }])
    let updatedAt = header.createdAt
    for (const commit of commits) {
      if (commit.seq !== folder.seq + 1) {
        return Effect.fail(fail("Corrupt", `Session "${key.id}" has commit ${commit.seq} after ${folder.seq}.`, key))
      }
      const invalid = folder.commit(commit.seq, commit.steps)
      if (invalid !== undefined) {
        return Effect.fail(fail("Corrupt", `Session "${key.id}" commit ${commit.seq}: ${invalid.message}`, key))
      }
      updatedAt = commit.at
    }
    const state = folder.state()
    return Effect.succeed({
      session: {
        ...info(header, updatedAt),
        seq: state.seq,
        history: state.history,
        usage: state.usage,
        options: state.options,
        handles: state.handles,
        approvals: state.approvals
      },
      tail: state.tail
    })
  })
