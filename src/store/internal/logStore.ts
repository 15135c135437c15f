/**
 * A session store over append-only logs of JSON lines, one per session and one per ask: the
 * embedded store (a file per log) and the memory store (an array per log) share it, and differ
 * only in their {@link Backend}.
 *
 * A session log is a header line (tenant, id, creation time, options, metadata, fork origin) and
 * one line per commit (`{ seq, at, steps }`). An ask log is a header line (`{ askId, startedAt }`),
 * one line per event (`{ id, event }`) and, when it ended, `{ end }`.
 *
 * Operations on one session are serialized in this process (striped locks); the state a commit
 * validates against (its `seq` and the tail of its history) is cached, so a commit costs one
 * append, not a read of the log.
 */
import * as Crypto from "node:crypto"
import { Effect, Semaphore } from "effect"
import type * as SessionStore from "../service.js"
import { makeAskLogs } from "./askLogs.js"
import type { Backend } from "./backend.js"
import { alreadyExists, checkId, checkTenant, fail, notFound, stepsOf, withKey } from "./errors.js"
import { advance, Invalid, type Tail } from "./fold.js"
import { Lru } from "./lru.js"
import {
  conflict,
  decodeCommit,
  decodeHeader,
  encodeCommit,
  encodeHeader,
  foldSession,
  type Header,
  info,
  parseJson,
  type StoredCommit,
  summaryOf
} from "./records.js"

export type { Backend } from "./backend.js"

// the cache

/** What a commit validates against. */
interface Entry {
  readonly seq: number
  readonly tail: Tail
}

const cacheKey = (key: SessionStore.SessionKey) => `${key.tenant}\u0000${key.id}`

/** Serializes the operations on one session: a lock per stripe of sessions. */
const makeLocks = (stripes: number) => {
  const locks = Array.from({ length: stripes }, () => Semaphore.makeUnsafe(1))
  return (key: SessionStore.SessionKey) => {
    const hash = Crypto.createHash("md5").update(cacheKey(key)).digest()
    return locks[hash.readUInt32LE(0) % stripes]!.withPermit
  }
}

// the store

/**
 * What the store's operations share: the backend, the per-session locks and the cache of what a
 * commit validates against, and the list of each listed tenant's sessions.
 */
interface LogState {
  readonly backend: Backend
  readonly lock: ReturnType<typeof makeLocks>
  readonly entries: Lru<Entry>
  /**
   * The list: each listed tenant's sessions, read once, then kept up to date by this process (the
   * only writer). Notes taken while a tenant is being read wait for the read (`indexLock`), so a
   * session created or deleted meanwhile is not lost; commits only bump `updatedAt` (one made
   * during the first read of its tenant may show the time of the commit before).
   */
  readonly indexLock: Semaphore.Semaphore
  readonly listed: Map<string, Map<string, SessionStore.SessionInfo>>
}

/** The store over `backend`: the list of its operations over one shared {@link LogState}. */
export const make = (backend: Backend, options: SessionStore.Options): SessionStore.Service => {
  const log: LogState = {
    backend,
    lock: makeLocks(64),
    entries: new Lru<Entry>(10_000),
    indexLock: Semaphore.makeUnsafe(1),
    listed: new Map()
  }
  const { appendEvents, endAsk, readEvents, asks } = makeAskLogs(backend, {
    asksPerSession: options.asksPerSession ?? 20,
    lock: log.lock,
    requireSession: (key) => requireSession(log, key),
    sessionKey: cacheKey
  })
  return {
    create: create(log),
    load: load(log),
    list: list(log),
    delete: remove(log),
    fork: fork(log),
    commit: commit(log),
    appendEvents,
    endAsk,
    readEvents,
    asks,
    importData: importData(log),
    dataPath: dataPath(log)
  }
}

/** Whether the session `key` exists (its commit state, cached or read). */
const requireSession = (log: LogState, key: SessionStore.SessionKey) => Effect.asVoid(entryOf(log, key))

/** Reads and folds a session's log (under its lock). */
const read = (log: LogState, key: SessionStore.SessionKey) =>
  Effect.gen(function* () {
    const lines = yield* log.backend.read(key)
    if (lines === undefined || lines.length === 0) return yield* Effect.fail(notFound(key))
    const header = yield* decodeHeader(yield* parseJson(lines[0]!, `${key.id} line 1`, key), `${key.id} line 1`, key)
    const commits: Array<StoredCommit> = []
    for (let i = 1; i < lines.length; i++) {
      const at = `${key.id} line ${i + 1}`
      commits.push(yield* decodeCommit(yield* parseJson(lines[i]!, at, key), at, key))
    }
    const { session, tail } = yield* foldSession(key, header, commits)
    const entry: Entry = { seq: session.seq, tail }
    log.entries.set(cacheKey(key), entry)
    return { session, lines, header, entry }
  })

/** What a commit to `key` validates against: cached, else read from its log. */
const entryOf = (log: LogState, key: SessionStore.SessionKey) =>
  Effect.suspend(() => {
    const entry = log.entries.get(cacheKey(key))
    return entry !== undefined ? Effect.succeed(entry) : Effect.map(read(log, key), (r) => r.entry)
  })

const create =
  (log: LogState): SessionStore.Service["create"] =>
  (tenant, options) => {
    const key = { tenant, id: options?.id ?? Crypto.randomUUID() }
    return withKey(key, () => createWith(log, key, options))
  }

/** Writes the header of a new session `key` (under its lock). */
const createWith = (log: LogState, key: SessionStore.SessionKey, options: SessionStore.CreateOptions | undefined) =>
  log.lock(key)(
    Effect.gen(function* () {
      const header: Header = {
        v: 1,
        tenant: key.tenant,
        id: key.id,
        createdAt: Date.now(),
        ...(options?.options !== undefined ? { options: options.options } : {}),
        ...(options?.metadata !== undefined ? { metadata: options.metadata } : {})
      }
      const line = yield* encodeHeader(header)
      if (yield* log.backend.exists(key)) return yield* Effect.fail(alreadyExists(key))
      // a crash between a delete's steps, or before a fork's log was written, can leave files
      yield* log.backend.blobs.remove(key)
      if (!(yield* log.backend.create(key, [line]))) return yield* Effect.fail(alreadyExists(key))
      const { session } = yield* read(log, key)
      yield* note(log, key, session)
      return session
    })
  )

const load =
  (log: LogState): SessionStore.Service["load"] =>
  (key) =>
    withKey(key, () => log.lock(key)(Effect.map(read(log, key), (r) => r.session)))

const commit =
  (log: LogState): SessionStore.Service["commit"] =>
  (key, steps, options) =>
    withKey(key, () => {
      const list = stepsOf(steps)
      if (list.length === 0) return Effect.fail(fail("InvalidInput", "A commit needs at least one step.", key))
      return log.lock(key)(
        Effect.gen(function* () {
          const entry = yield* entryOf(log, key)
          if (options?.expectedSeq !== undefined && options.expectedSeq !== entry.seq) {
            return yield* Effect.fail(conflict(key, options.expectedSeq, entry.seq))
          }
          let tail = entry.tail
          for (const step of list) {
            const next = advance(tail, step)
            if (next instanceof Invalid) return yield* Effect.fail(fail("InvalidStep", next.message, key))
            tail = next
          }
          const seq = entry.seq + 1
          const at = Date.now()
          const line = yield* encodeCommit({ seq, at, steps: list }, key)
          yield* log.backend
            .append(key, line)
            .pipe(Effect.onError(() => Effect.sync(() => log.entries.delete(cacheKey(key)))))
          log.entries.set(cacheKey(key), { seq, tail })
          touch(log, key, at)
          return seq
        })
      )
    })

// the list: see `LogState.listed`

/** The list of `tenant`'s sessions, read from the backend the first time (under `indexLock`). */
const readIndex = (log: LogState, tenant: string) =>
  Effect.gen(function* () {
    const known = log.listed.get(tenant)
    if (known !== undefined) return known
    const index = new Map<string, SessionStore.SessionInfo>()
    for (const { header, updatedAt } of yield* log.backend.list(tenant)) {
      const at = `a session header of tenant "${tenant}"`
      const decoded = yield* decodeHeader(yield* parseJson(header, at, { tenant, id: "?" }), at)
      index.set(decoded.id, info(decoded, updatedAt))
    }
    log.listed.set(tenant, index)
    return index
  })

/** Records a created, forked or deleted session in its tenant's list, if it was read. */
const note = (log: LogState, key: SessionStore.SessionKey, session: SessionStore.SessionInfo | undefined) =>
  log.indexLock.withPermit(
    Effect.sync(() => {
      const index = log.listed.get(key.tenant)
      if (index === undefined) return
      if (session === undefined) index.delete(key.id)
      else index.set(key.id, summaryOf(session))
    })
  )

/** Bumps a listed session's `updatedAt` after a commit. */
const touch = (log: LogState, key: SessionStore.SessionKey, at: number) => {
  const index = log.listed.get(key.tenant)
  const known = index?.get(key.id)
  if (known !== undefined) index!.set(key.id, { ...known, updatedAt: at })
}

const list =
  (log: LogState): SessionStore.Service["list"] =>
  (tenant, options) => {
    const invalid =
      checkTenant(tenant) ?? (options?.after === undefined ? undefined : checkId("session", options.after))
    if (invalid !== undefined) return Effect.fail(invalid)
    return Effect.map(log.indexLock.withPermit(readIndex(log, tenant)), (index) => {
      const after = options?.after
      const infos = [...index.values()].filter((info) => after === undefined || info.id > after)
      infos.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))
      return options?.limit === undefined ? infos : infos.slice(0, Math.max(0, options.limit))
    })
  }

const remove =
  (log: LogState): SessionStore.Service["delete"] =>
  (key) =>
    withKey(key, () =>
      log.lock(key)(
        Effect.gen(function* () {
          const existed = yield* log.backend.remove(key)
          log.entries.delete(cacheKey(key))
          if (!existed) return yield* Effect.fail(notFound(key))
          yield* note(log, key, undefined)
          yield* log.backend.blobs.remove(key)
        })
      )
    )

const fork =
  (log: LogState): SessionStore.Service["fork"] =>
  (key, options) =>
    withKey(key, () => {
      const target = { tenant: key.tenant, id: options?.id ?? Crypto.randomUUID() }
      return withKey(target, () =>
        Effect.gen(function* () {
          const parent = yield* log.lock(key)(read(log, key))
          const header: Header = {
            ...parent.header,
            id: target.id,
            createdAt: Date.now(),
            forkedFrom: { id: key.id, seq: parent.session.seq }
          }
          const line = yield* encodeHeader(header)
          return yield* log.lock(target)(
            Effect.gen(function* () {
              if (yield* log.backend.exists(target)) return yield* Effect.fail(alreadyExists(target))
              yield* log.backend.blobs.remove(target)
              yield* log.backend.blobs.fork(key, target)
              if (!(yield* log.backend.create(target, [line, ...parent.lines.slice(1)]))) {
                return yield* Effect.fail(alreadyExists(target))
              }
              const { session } = yield* read(log, target)
              yield* note(log, target, session)
              return session
            })
          )
        })
      )
    })

// data

const importData =
  (log: LogState): SessionStore.Service["importData"] =>
  (key, file, options) =>
    withKey(key, () =>
      Effect.andThen(
        log.lock(key)(requireSession(log, key)),
        log.backend.blobs.importFile(key, file, { format: options?.format ?? "parquet", move: options?.move ?? false })
      )
    )

const dataPath =
  (log: LogState): SessionStore.Service["dataPath"] =>
  (key, ref) =>
    withKey(key, () => Effect.andThen(log.lock(key)(requireSession(log, key)), log.backend.blobs.path(key, ref)))
