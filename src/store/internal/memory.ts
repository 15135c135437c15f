/**
 * The memory store: the embedded store's logs as arrays of lines in a Map, so both run the same
 * code above their backends (and the same encoding: what the memory store accepts, the embedded
 * one stores). Data files go to a directory: the one given, or a temporary one removed with the
 * layer.
 */
import * as FsP from "node:fs/promises"
import * as Os from "node:os"
import * as Path from "node:path"
import { Effect } from "effect"
import type * as SessionStore from "../service.js"
import * as Blobs from "./blobs.js"
import { io } from "./errors.js"
import * as LogStore from "./logStore.js"

const makeBackend = (dataDirectory: string): LogStore.Backend => {
  const sessions = new Map<string, { lines: Array<string>; updatedAt: number }>()
  const asks = new Map<string, Map<string, Array<string>>>()
  const id = (key: SessionStore.SessionKey) => `${key.tenant}\u0000${key.id}`
  return {
    read: (key) => Effect.sync(() => sessions.get(id(key))?.lines.slice()),
    exists: (key) => Effect.sync(() => sessions.has(id(key))),
    create: (key, lines) =>
      Effect.sync(() => {
        if (sessions.has(id(key))) return false
        asks.delete(id(key))
        sessions.set(id(key), { lines: [...lines], updatedAt: Date.now() })
        return true
      }),
    append: (key, line) =>
      Effect.sync(() => {
        const session = sessions.get(id(key))!
        session.lines.push(line)
        session.updatedAt = Date.now()
      }),
    remove: (key) =>
      Effect.sync(() => {
        asks.delete(id(key))
        return sessions.delete(id(key))
      }),
    list: (tenant) =>
      Effect.sync(() =>
        [...sessions]
          .filter(([key]) => key.startsWith(`${tenant}\u0000`))
          .map(([, session]) => ({ header: session.lines[0]!, updatedAt: session.updatedAt }))
      ),
    readAsk: (key, askId) => Effect.sync(() => asks.get(id(key))?.get(askId)?.slice()),
    appendAsk: (key, askId, lines) =>
      Effect.sync(() => {
        let session = asks.get(id(key))
        if (session === undefined) asks.set(id(key), (session = new Map()))
        let log = session.get(askId)
        if (log === undefined) session.set(askId, (log = []))
        log.push(...lines)
      }),
    listAsks: (key) => Effect.sync(() => [...(asks.get(id(key))?.keys() ?? [])]),
    removeAsk: (key, askId) => Effect.sync(() => void asks.get(id(key))?.delete(askId)),
    blobs: Blobs.make(dataDirectory)
  }
}

/** A temporary data directory, removed with the scope. */
const temporaryDirectory = Effect.acquireRelease(
  Effect.tryPromise({
    try: () => FsP.mkdtemp(Path.join(Os.tmpdir(), "data-harness-store-")),
    catch: io("make a temporary data directory")
  }),
  (directory) => Effect.promise(() => FsP.rm(directory, { recursive: true, force: true }))
)

export const makeMemory = (options: SessionStore.Options & { readonly dataDirectory?: string | undefined }) =>
  Effect.map(
    options.dataDirectory === undefined ? temporaryDirectory : Effect.succeed(Path.resolve(options.dataDirectory)),
    (directory) => LogStore.make(makeBackend(directory), options)
  )
