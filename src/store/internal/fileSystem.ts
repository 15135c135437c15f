/**
 * The embedded store: logs as files under one directory.
 *
 * ```
 * <directory>/LOCK                                  the pid of the process that has it open
 * <directory>/sessions/<tenant key>/<id>.jsonl      a session's log
 * <directory>/events/<tenant key>/<id>/<ask>.jsonl  an ask's event log
 * <directory>/data/<tenant key>/<id>/<sha256>.<fmt> data files (see blobs.ts)
 * ```
 *
 * A commit is one `write` of its line (opened `O_APPEND`, never `O_CREAT`) and `fdatasync` before
 * it returns. A crash during the write can leave a torn last line: reading a log drops a last line
 * that has no newline or is not JSON, and truncates the file to the last whole line, so the next
 * append starts clean. A new log is written to a temporary file, flushed, and hard-linked to its
 * name (which fails when the name exists, so a create never overwrites), then the directory is
 * flushed. The bench row `store: commit` measures it.
 */
import * as Crypto from "node:crypto"
import * as Fs from "node:fs"
import * as FsP from "node:fs/promises"
import * as Path from "node:path"
import { Effect } from "effect"
import type { StoreError } from "../StoreError.js"
import type * as SessionStore from "../service.js"
import * as Blobs from "./blobs.js"
import { fail, io, isMissing } from "./errors.js"
import * as LogStore from "./logStore.js"

const NEWLINE = 0x0a

const isJson = (text: string): boolean => {
  try {
    JSON.parse(text)
    return true
  } catch {
    return false
  }
}

/**
 * The whole lines of a log file; a torn last line (no newline, or not JSON) is cut off the file.
 * `undefined` when the file does not exist.
 */
const readLines = async (path: string): Promise<ReadonlyArray<string> | undefined> => {
  let bytes: Buffer
  try {
    bytes = await FsP.readFile(path)
  } catch (error) {
    if (isMissing(error)) return undefined
    throw error
  }
  let end = bytes.lastIndexOf(NEWLINE) + 1
  const lines = end === 0 ? [] : bytes.toString("utf8", 0, end - 1).split("\n")
  // a crash can tear only the last line: drop it when it is not whole JSON
  if (lines.length > 0 && !isJson(lines[lines.length - 1]!)) end -= Buffer.byteLength(lines.pop()!) + 1
  if (end < bytes.length) {
    await FsP.truncate(path, end)
    const handle = await FsP.open(path, "r+")
    try {
      await handle.datasync()
    } finally {
      await handle.close()
    }
  }
  return lines
}

/** The first line of a file, read in small chunks (a session's header), and its change time. */
const firstLine = async (path: string): Promise<{ line: string; mtimeMs: number } | undefined> => {
  const handle = await FsP.open(path, "r")
  try {
    const { mtimeMs } = await handle.stat()
    const chunks: Array<Buffer> = []
    let position = 0
    for (;;) {
      const chunk = Buffer.alloc(4096)
      const { bytesRead } = await handle.read(chunk, 0, chunk.length, position)
      if (bytesRead === 0) return undefined
      const newline = chunk.subarray(0, bytesRead).indexOf(NEWLINE)
      if (newline >= 0) {
        chunks.push(chunk.subarray(0, newline))
        return { line: Buffer.concat(chunks).toString("utf8"), mtimeMs }
      }
      chunks.push(chunk.subarray(0, bytesRead))
      position += bytesRead
    }
  } finally {
    await handle.close()
  }
}

/** Appends bytes with one write, flushed when `durable`; a failed write is cut off again. */
const appendBytes = async (path: string, text: string, durable: boolean, create: boolean): Promise<void> => {
  const flags = Fs.constants.O_WRONLY | Fs.constants.O_APPEND | (create ? Fs.constants.O_CREAT : 0)
  const handle = await FsP.open(path, flags, 0o644)
  try {
    const { size } = await handle.stat()
    try {
      await handle.write(text)
      if (durable) await handle.datasync()
    } catch (error) {
      await handle.truncate(size).catch(() => undefined)
      throw error
    }
  } finally {
    await handle.close()
  }
}

const writeNew = async (path: string, text: string): Promise<boolean> => {
  const directory = Path.dirname(path)
  await Blobs.makeDirectory(directory)
  const temp = Path.join(directory, `.tmp-${Crypto.randomUUID()}`)
  try {
    const handle = await FsP.open(temp, "wx", 0o644)
    try {
      await handle.write(text)
      await handle.datasync()
    } finally {
      await handle.close()
    }
    try {
      await FsP.link(temp, path)
    } catch (error) {
      if ((error as { code?: unknown }).code === "EEXIST") return false
      throw error
    }
    await Blobs.syncDirectory(directory)
    return true
  } finally {
    await FsP.rm(temp, { force: true })
  }
}

const exists = (path: string): Promise<boolean> =>
  FsP.access(path).then(
    () => true,
    (error) => (isMissing(error) ? false : Promise.reject(error))
  )

const readdir = async (path: string): Promise<ReadonlyArray<string>> => {
  try {
    return await FsP.readdir(path)
  } catch (error) {
    if (isMissing(error)) return []
    throw error
  }
}

const makeBackend = (root: string): LogStore.Backend => {
  const sessionDirectory = (tenant: string) => Path.join(root, "sessions", Blobs.tenantKey(tenant))
  const sessionFile = (key: SessionStore.SessionKey) => Path.join(sessionDirectory(key.tenant), `${key.id}.jsonl`)
  const askDirectory = (key: SessionStore.SessionKey) => Path.join(root, "events", Blobs.tenantKey(key.tenant), key.id)
  const askFile = (key: SessionStore.SessionKey, askId: string) => Path.join(askDirectory(key), `${askId}.jsonl`)
  const attempt = <A>(operation: string, key: SessionStore.SessionKey | undefined, f: () => Promise<A>) =>
    Effect.tryPromise({ try: f, catch: io(operation, key) })

  return {
    read: (key) => attempt("read the session", key, () => readLines(sessionFile(key))),
    exists: (key) => attempt("read the session", key, () => exists(sessionFile(key))),
    create: (key, lines) =>
      attempt("create the session", key, async () => {
        if (await exists(sessionFile(key))) return false
        // event logs left by a crash during an earlier delete of this id
        await FsP.rm(askDirectory(key), { recursive: true, force: true })
        return writeNew(sessionFile(key), `${lines.join("\n")}\n`)
      }),
    append: (key, line) =>
      Effect.tryPromise({
        try: () => appendBytes(sessionFile(key), `${line}\n`, true, false),
        catch: (cause): StoreError =>
          isMissing(cause)
            ? fail("NotFound", `Session "${key.id}" was deleted while it was being committed to.`, key, cause)
            : io("commit to the session", key)(cause)
      }),
    remove: (key) =>
      attempt("delete the session", key, async () => {
        try {
          await FsP.unlink(sessionFile(key))
        } catch (error) {
          if (isMissing(error)) return false
          throw error
        }
        await Blobs.syncDirectory(sessionDirectory(key.tenant))
        await FsP.rm(askDirectory(key), { recursive: true, force: true })
        return true
      }),
    list: (tenant) =>
      attempt("list the sessions", undefined, async () => {
        const directory = sessionDirectory(tenant)
        const found: Array<{ header: string; updatedAt: number }> = []
        for (const name of await readdir(directory)) {
          if (!name.endsWith(".jsonl") || name.startsWith(".")) continue
          const path = Path.join(directory, name)
          try {
            const first = await firstLine(path)
            if (first !== undefined) found.push({ header: first.line, updatedAt: Math.floor(first.mtimeMs) })
          } catch (error) {
            if (!isMissing(error)) throw error
          }
        }
        return found
      }),
    readAsk: (key, askId) => attempt("read the ask's events", key, () => readLines(askFile(key, askId))),
    appendAsk: (key, askId, lines, durable) =>
      attempt("append the ask's events", key, async () => {
        const text = `${lines.join("\n")}\n`
        try {
          await appendBytes(askFile(key, askId), text, durable, true)
        } catch (error) {
          if (!isMissing(error)) throw error
          // the session's first ask: make its directory
          await FsP.mkdir(askDirectory(key), { recursive: true })
          await appendBytes(askFile(key, askId), text, durable, true)
        }
      }),
    listAsks: (key) =>
      attempt("list the asks", key, async () =>
        (await readdir(askDirectory(key)))
          .filter((name) => name.endsWith(".jsonl") && !name.startsWith("."))
          .map((name) => name.slice(0, -".jsonl".length))
      ),
    removeAsk: (key, askId) => attempt("drop an old ask", key, () => FsP.rm(askFile(key, askId), { force: true })),
    blobs: Blobs.make(Path.join(root, "data"))
  }
}

// the directory lock

/** Directories open in this process. */
const open = new Set<string>()

const isAlive = (pid: number): boolean => {
  try {
    process.kill(pid, 0)
    return true
  } catch (error) {
    return (error as { code?: unknown }).code === "EPERM"
  }
}

/** Takes the directory for this process: `Locked` while another live process (or layer) has it. */
const acquireLock = (root: string) =>
  Effect.acquireRelease(
    Effect.tryPromise({
      try: async () => {
        await FsP.mkdir(root, { recursive: true })
        const real = await FsP.realpath(root)
        const lockFile = Path.join(real, "LOCK")
        const owner = Number.parseInt(await FsP.readFile(lockFile, "utf8").catch(() => ""), 10)
        if (open.has(real) || (Number.isInteger(owner) && owner !== process.pid && isAlive(owner))) {
          return { locked: open.has(real) ? process.pid : owner, real, lockFile }
        }
        await FsP.writeFile(lockFile, `${process.pid}\n`)
        open.add(real)
        return { locked: undefined, real, lockFile }
      },
      catch: io(`open the store directory ${root}`)
    }),
    ({ locked, real, lockFile }) =>
      locked !== undefined
        ? Effect.void
        : Effect.promise(async () => {
            open.delete(real)
            await FsP.rm(lockFile, { force: true })
          })
  ).pipe(
    Effect.flatMap(({ locked, real }) =>
      locked === undefined
        ? Effect.succeed(real)
        : Effect.fail(
            fail(
              "Locked",
              `The store directory ${real} is open in ${locked === process.pid ? "this process already" : `process ${locked}`}: ` +
                "the embedded store serves one process; close the other, or use SessionStore.layerPostgres for several."
            )
          )
    )
  )

export const makeFileSystem = (options: SessionStore.Options & { readonly directory: string }) =>
  Effect.map(acquireLock(Path.resolve(options.directory)), (root) => LogStore.make(makeBackend(root), options))
