/**
 * An upload: the request body streamed to a file in the session's directory, then put into the
 * session as a handle. A body over the limit, an empty one, or one DuckDB cannot read is a typed
 * error, and its file is removed; the session is unchanged.
 * @internal
 */
import { randomBytes } from "node:crypto"
import * as Fs from "node:fs/promises"
import * as Path from "node:path"
import { Effect, Exit, Stream } from "effect"
import type { Data, HarnessError } from "../index.js"
import { BadFile, BadRequest, PayloadTooLarge } from "./ApiError.js"
import type { ServerSession } from "./ServerSessions.js"
import type { HandleInfo } from "./SessionApi.js"

/** The upload formats, with the extension `putFile` infers each from. */
const extensions = { csv: "csv", tsv: "tsv", parquet: "parquet", json: "json", jsonl: "jsonl" } as const
type Format = keyof typeof extensions

const byContentType: Readonly<Record<string, Format>> = {
  "text/csv": "csv",
  "text/tab-separated-values": "tsv",
  "application/json": "json",
  "application/x-ndjson": "jsonl",
  "application/jsonl": "jsonl",
  "application/vnd.apache.parquet": "parquet",
  "application/x-parquet": "parquet"
}

/** The format of an upload: the `format` query parameter, else its content type. */
const formatOf = (contentType: string | undefined, given: Format | undefined): Format | BadRequest => {
  if (given !== undefined) return given
  const type = (contentType ?? "").split(";")[0]!.trim().toLowerCase()
  const format = byContentType[type]
  if (format !== undefined) return format
  const message =
    `A ${type || "body without a content type"} does not say its format: ` +
    `add ?format=csv, tsv, parquet, json or jsonl, or send it as text/csv, text/tab-separated-values, ` +
    `application/json, application/x-ndjson or application/vnd.apache.parquet.`
  return new BadRequest({ field: "query.format", message, issues: [{ field: "query.format", message }] })
}

/** What the API shows of a handle: never the server-side path of its file. */
export const handleInfo = (handle: Data.Handle): HandleInfo => ({
  name: handle.name,
  ...(handle.description !== undefined ? { description: handle.description } : {}),
  ...(handle.query !== undefined ? { query: handle.query } : {}),
  snapshot: handle.snapshot as unknown as Record<string, unknown>
})

const tooLarge = (limit: number) =>
  new PayloadTooLarge({
    field: "body",
    limit,
    message: `The upload is larger than ${limit} bytes, the server's limit; split it or ask for a higher limit.`
  })

/** Writes the body to `path`, counting bytes against `limit`; returns the count. */
const writeBody = <E>(body: Stream.Stream<Uint8Array, E>, path: string, limit: number) =>
  Effect.acquireUseRelease(
    Effect.promise(() => Fs.open(path, "wx")),
    (file) =>
      Effect.suspend(() => {
        let bytes = 0
        return body.pipe(
          Stream.runForEach((chunk) => {
            bytes += chunk.length
            return bytes > limit ? Effect.fail(tooLarge(limit)) : Effect.promise(() => file.write(chunk))
          }),
          Effect.map(() => bytes)
        )
      }),
    (file) => Effect.promise(() => file.close())
  )

/**
 * A `DataError` as the client sees it: the file's path replaced by the upload's name, and
 * DuckDB's echo of the statement (which holds the session directory) cut off.
 */
const fromDataError = (error: HarnessError.DataError, path: string, name: string) => {
  const message = error.message
    .split(/\n\s*LINE \d+:/)[0]!
    .split(path)
    .join(`the upload "${name}"`)
    .split(Path.dirname(path))
    .join("(the session's directory)")
    .trim()
  return error.reason === "InvalidName"
    ? new BadRequest({ field: "params.name", message, issues: [{ field: "params.name", message }] })
    : new BadFile({ field: "body", reason: error.reason, message })
}

/**
 * Streams an upload into the session: to a new file in its directory, then `putFile`.
 * @internal
 */
export const upload = <E>(options: {
  readonly held: ServerSession
  readonly name: string
  readonly body: Stream.Stream<Uint8Array, E>
  readonly contentType: string | undefined
  readonly contentLength: string | undefined
  readonly format: Format | undefined
  readonly overwrite: boolean
  readonly description: string | undefined
  readonly limit: number
}) =>
  Effect.gen(function* () {
    const format = formatOf(options.contentType, options.format)
    if (format instanceof BadRequest) return yield* format
    if (Number(options.contentLength) > options.limit) return yield* tooLarge(options.limit)
    const path = Path.join(options.held.directory, `${randomBytes(9).toString("base64url")}.${extensions[format]}`)
    const put = Effect.gen(function* () {
      const bytes = yield* writeBody(options.body, path, options.limit)
      if (bytes === 0) {
        return yield* new BadFile({ field: "body", reason: "Empty", message: "The upload is empty; send the file." })
      }
      // with a session store the file moves into the session's data there (a failed put leaves it
      // there until the session is deleted)
      const kept = yield* options.held.keepUpload(path, extensions[format])
      const name = yield* options.held.session
        .putFile(options.name, kept, {
          overwrite: options.overwrite,
          ...(options.description !== undefined ? { description: options.description } : {})
        })
        .pipe(
          Effect.catchTag("DataError", (error) => Effect.fail(fromDataError(error, kept, options.name))),
          // the session store failed to keep it: the server's problem, a 500
          Effect.catchTag("StoreError", (error) => Effect.die(error))
        )
      const handle = (yield* options.held.session.handles).find((h) => h.name === name)!
      return { name, bytes, handle: handleInfo(handle) }
    })
    return yield* put.pipe(
      Effect.onExit((exit) => (Exit.isSuccess(exit) ? Effect.void : Effect.promise(() => Fs.rm(path, { force: true }))))
    )
  })
