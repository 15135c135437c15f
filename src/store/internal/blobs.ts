/**
 * The data directory: each session's data files, named by their content hash.
 *
 * Layout: `<root>/<tenant key>/<session id>/<sha256>.<format>`. A file is written once (copied or
 * moved in, flushed, renamed into place) and never changed, so sessions can share it: a fork
 * hard-links its parent's files into its own directory, which costs no space, and deleting a
 * session removes its links; the file system frees a file when its last link goes (the link count
 * is the reference count, kept by the file system itself, also across processes). A "write" to a
 * handle is a new file, so a fork and its parent never see each other's changes (copy on write).
 */
import * as Crypto from "node:crypto"
import * as Fs from "node:fs"
import * as FsP from "node:fs/promises"
import * as Path from "node:path"
import { Effect } from "effect"
import type { DataRef } from "../Step.js"
import type { StoreError } from "../StoreError.js"
import type { SessionKey } from "../service.js"
import { fail, io, isMissing } from "./errors.js"

/** A tenant as a file name: base64url of its UTF-8 bytes (at most 172 characters). */
export const tenantKey = (tenant: string): string => `t${Buffer.from(tenant, "utf8").toString("base64url")}`

/** The tenant of a file name made by {@link tenantKey}. */
export const tenantOf = (name: string): string => Buffer.from(name.slice(1), "base64url").toString("utf8")

/** Flushes a directory, so a rename or link in it survives a crash. */
export const syncDirectory = async (directory: string): Promise<void> => {
  const handle = await FsP.open(directory, "r")
  try {
    await handle.sync()
  } finally {
    await handle.close()
  }
}

/** Makes a directory and its missing parents, durably: each new one is flushed into its parent. */
export const makeDirectory = async (directory: string): Promise<void> => {
  const first = await FsP.mkdir(directory, { recursive: true })
  if (first === undefined) return
  for (let made = directory; ; made = Path.dirname(made)) {
    await syncDirectory(Path.dirname(made))
    if (made === first) return
  }
}

const hashFile = (path: string): Promise<{ readonly sha256: string; readonly bytes: number }> =>
  new Promise((resolve, reject) => {
    const hash = Crypto.createHash("sha256")
    let bytes = 0
    Fs.createReadStream(path)
      .on("data", (chunk) => {
        bytes += chunk.length
        hash.update(chunk)
      })
      .on("error", reject)
      .on("end", () => resolve({ sha256: hash.digest("hex"), bytes }))
  })

const FORMAT = /^[a-z0-9]{1,16}$/

/** The data files of every session under one root directory. */
export interface Blobs {
  readonly root: string
  readonly importFile: (
    key: SessionKey,
    file: string,
    options: { readonly format: string; readonly move: boolean }
  ) => Effect.Effect<DataRef, StoreError>
  readonly path: (key: SessionKey, ref: DataRef) => Effect.Effect<string, StoreError>
  /** Links every file of `from` into `to`. */
  readonly fork: (from: SessionKey, to: SessionKey) => Effect.Effect<void, StoreError>
  readonly remove: (key: SessionKey) => Effect.Effect<void, StoreError>
}

/** The data files of every session under `root`: the list of their operations. */
export const make = (root: string): Blobs => ({
  root,
  importFile: importFile(root),
  path: path(root),
  fork: fork(root),
  remove: remove(root)
})

/** The directory of a session's data files. */
const directory = (root: string, key: SessionKey) => Path.join(root, tenantKey(key.tenant), key.id)

const importFile =
  (root: string): Blobs["importFile"] =>
  (key, file, { format, move }) => {
    if (!FORMAT.test(format)) {
      return Effect.fail(
        fail("InvalidInput", `A data format must be 1-16 lowercase letters or digits, not "${format}".`)
      )
    }
    return Effect.tryPromise({
      try: () => importInto(directory(root, key), file, format, move),
      catch: (cause) =>
        isMissing(cause)
          ? fail("NotFound", `The data file ${file} does not exist: write it before importing it.`, key, cause)
          : io(`import the data file ${file}`, key)(cause)
    })
  }

/**
 * Copies (or moves) `file` into `dir` under a temp name, syncs it, then renames it to its hash
 * and format: the file is there whole or not at all.
 */
const importInto = async (dir: string, file: string, format: string, move: boolean): Promise<DataRef> => {
  await makeDirectory(dir)
  const temp = Path.join(dir, `.tmp-${Crypto.randomUUID()}`)
  try {
    await copyIn(file, temp, move)
    const { sha256, bytes } = await hashFile(temp)
    const handle = await FsP.open(temp, "r+")
    try {
      await handle.datasync()
    } finally {
      await handle.close()
    }
    await FsP.rename(temp, Path.join(dir, `${sha256}.${format}`))
    await syncDirectory(dir)
    return { sha256, bytes, format }
  } finally {
    await FsP.rm(temp, { force: true })
  }
}

/** Puts `file` at `temp`: moved (copied then removed across devices) or copied (cloned where the file system can). */
const copyIn = async (file: string, temp: string, move: boolean): Promise<void> => {
  if (move) {
    try {
      await FsP.rename(file, temp)
    } catch (error) {
      if ((error as { code?: unknown }).code !== "EXDEV") throw error
      await FsP.copyFile(file, temp)
      await FsP.unlink(file)
    }
  } else {
    await FsP.copyFile(file, temp, Fs.constants.COPYFILE_FICLONE)
  }
}

const path =
  (root: string): Blobs["path"] =>
  (key, ref) =>
    Effect.tryPromise({
      try: async () => {
        const file = Path.join(directory(root, key), `${ref.sha256}.${ref.format}`)
        await FsP.access(file)
        return file
      },
      catch: (cause) =>
        isMissing(cause)
          ? fail(
              "NotFound",
              `Session "${key.id}" has no data file ${ref.sha256}.${ref.format}: import it with importData first.`,
              key,
              cause
            )
          : io("read the data directory", key)(cause)
    })

const fork =
  (root: string): Blobs["fork"] =>
  (from, to) =>
    Effect.tryPromise({
      try: async () => {
        let names: ReadonlyArray<string>
        try {
          names = await FsP.readdir(directory(root, from))
        } catch (error) {
          if (isMissing(error)) return
          throw error
        }
        const target = directory(root, to)
        await makeDirectory(target)
        for (const name of names) {
          if (name.startsWith(".")) continue
          try {
            await FsP.link(Path.join(directory(root, from), name), Path.join(target, name))
          } catch (error) {
            const code = (error as { code?: unknown }).code
            if (code !== "EEXIST" && code !== "ENOENT") throw error
          }
        }
        await syncDirectory(target)
      },
      catch: io("share the data files with the fork", to)
    })

const remove =
  (root: string): Blobs["remove"] =>
  (key) =>
    Effect.tryPromise({
      try: () => FsP.rm(directory(root, key), { recursive: true, force: true }),
      catch: io("remove the data files", key)
    })
