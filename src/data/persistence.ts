/**
 * A session's handles in a session store: which handles changed since the last commit, each as
 * the `StoredHandle` a `PutHandle` step keeps, and the handles of a stored session restored.
 *
 * What each handle kind stores:
 * - a put table (an array of records) and a saved query result: its rows as a Parquet file that
 *   the session database writes (`COPY ... TO`, into a directory only it may write), moved into
 *   the store's data (`importData`), referenced by `data`; a saved result also keeps its `query`;
 * - any other put value (an array, an object, a scalar): the value as JSON in `value` (a `Date`
 *   becomes its ISO string, a bigint a number or a decimal string: `core/jsonValue.ts`);
 * - a file (`putFile`): its `path` and `format`: the file stays where it is;
 * - every handle: its name, snapshot, description and lineage.
 *
 * Restoring is lazy where it costs: a table comes back as a handle whose rows stay in its Parquet
 * file (its `value` is `undefined`; `read` and SQL read the file, loaded into the session
 * database only when a statement names it), and nothing opens DuckDB until SQL runs.
 *
 * @internal
 */
import { Effect, Option, Schema } from "effect"
import { toJsonValue } from "../core/jsonValue.js"
import type { DataRef, Step, StoredHandle } from "../store/Step.js"
import { StoreError } from "../store/StoreError.js"
import type { FileFormat } from "./duckdb/fileFormats.js"
import { LineageChain } from "./lineage.js"
import type { BackingFile, Handle, Snapshot } from "./model.js"
import { isTable } from "./snapshots.js"
import type { PersistentStore } from "./store.js"

/**
 * Where a session's data files go: its session store, for one session.
 * @internal
 */
export interface DataSink {
  /** Moves a file written for this purpose into the session's data; its reference. */
  readonly importData: (file: string) => Effect.Effect<DataRef, StoreError>
  /** The path of one of the session's data files. */
  readonly dataPath: (ref: DataRef) => Effect.Effect<string, StoreError>
}

/**
 * The changes to commit, and what to do once the commit is done (or failed).
 * @internal
 */
export interface Changes {
  readonly steps: ReadonlyArray<Step>
  /** Call after the commit: `true` when it was written, `false` when it failed (the names stay changed). */
  readonly settle: (committed: boolean) => void
}

const FORMATS: ReadonlySet<string> = new Set<FileFormat>(["csv", "parquet", "json"])

const decodeLineage = Schema.decodeUnknownOption(LineageChain)

/** What converting one handle gives: its record, and the data file its rows went to. */
interface Converted {
  readonly handle: Handle
  readonly record: StoredHandle
  readonly ref?: DataRef | undefined
  readonly backing?: BackingFile | undefined
}

/**
 * The handles of one session kept in a session store.
 * @internal
 */
export class HandlePersistence {
  /** Handle versions whose record is in the store. */
  private readonly stored = new WeakSet<Handle>()
  /** The data file of each stored handle whose rows are one. */
  private readonly refs = new WeakMap<Handle, DataRef>()
  /** The exact name each lower-cased name is stored under. */
  private readonly names = new Map<string, string>()

  constructor(
    readonly data: PersistentStore,
    private readonly sink: DataSink
  ) {
    data.enablePersistence()
  }

  /** Adds the handles of a stored session (before anything else changes the store). */
  restore(handles: ReadonlyArray<StoredHandle>): Effect.Effect<void, StoreError> {
    return Effect.gen({ self: this }, function* () {
      for (const record of handles) {
        const data = record.data
        const backing =
          data === undefined
            ? undefined
            : {
                path: yield* this.sink.dataPath(data),
                format: (FORMATS.has(data.format) ? data.format : "parquet") as FileFormat
              }
        const held = this.data.restore(handleOf(record), backing)
        this.stored.add(held)
        if (data !== undefined) this.refs.set(held, data)
        this.names.set(held.name.toLowerCase(), held.name)
      }
      this.data.drainChanges()
    })
  }

  /**
   * The steps that bring the store up to date with the handles changed since the last call:
   * `PutHandle` for each new version (its rows written first when they go to a file),
   * `RemoveHandle` for each removed name. A failure leaves the names changed, for the next call.
   */
  get changes(): Effect.Effect<Changes, StoreError> {
    return Effect.suspend(() => {
      const keys = this.data.drainChanges()
      if (keys.length === 0) return Effect.succeed(nothing)
      return this.stepsFor(keys).pipe(Effect.onError(() => Effect.sync(() => this.data.markChanged(keys))))
    })
  }

  private stepsFor(keys: ReadonlyArray<string>): Effect.Effect<Changes, StoreError> {
    return Effect.gen({ self: this }, function* () {
      const steps: Array<Step> = []
      const done: Array<() => void> = []
      for (const key of keys) {
        const handle = this.data.current(key)
        const storedName = this.names.get(key)
        if (handle === undefined) {
          if (storedName === undefined) continue
          steps.push({ _tag: "RemoveHandle", name: storedName })
          done.push(() => this.names.delete(key))
          continue
        }
        if (this.stored.has(handle)) continue
        // the store keys handles by exact name: a replacement spelled differently replaces it there too
        if (storedName !== undefined && storedName !== handle.name)
          steps.push({ _tag: "RemoveHandle", name: storedName })
        const converted = yield* this.convert(handle)
        steps.push({ _tag: "PutHandle", handle: converted.record })
        done.push(() => this.settled(key, converted))
      }
      return {
        steps,
        settle: (committed) => {
          if (committed) for (const f of done) f()
          else this.data.markChanged(keys)
        }
      }
    })
  }

  /** A converted handle is in the store: its version is stored, a saved result's rows now come from its file. */
  private settled(key: string, converted: Converted): void {
    const { handle, ref, backing } = converted
    this.stored.add(handle)
    this.names.set(key, handle.name)
    if (ref !== undefined) this.refs.set(handle, ref)
    if (backing !== undefined && handle.query !== undefined) this.data.back(handle, backing)
  }

  /** The record of a handle; a table's rows written to Parquet and moved into the store. */
  private convert(handle: Handle): Effect.Effect<Converted, StoreError> {
    const ref = this.refs.get(handle)
    if (ref !== undefined) return Effect.succeed({ handle, record: { ...base(handle), data: ref, ...queryOf(handle) } })
    if (handle.path !== undefined) {
      const format = handle.format !== undefined ? { format: handle.format } : {}
      return Effect.succeed({ handle, record: { ...base(handle), path: handle.path, ...format } })
    }
    if (handle.query === undefined && !isTable(handle.value)) {
      return Effect.succeed({ handle, record: { ...base(handle), value: jsonOf(handle.value) as Schema.Json } })
    }
    return Effect.gen({ self: this }, function* () {
      const written = yield* this.data.writeParquet(handle.name).pipe(
        Effect.mapError(
          (error) =>
            new StoreError({
              reason: "Io",
              message: `Could not write the rows of handle "${handle.name}" as Parquet for the session store: ${error.message}`
            })
        )
      )
      const ref = yield* this.sink.importData(written.file)
      const path = yield* this.sink.dataPath(ref)
      return {
        handle: written.handle,
        record: { ...base(written.handle), data: ref, ...queryOf(written.handle) },
        ref,
        backing: { path, format: "parquet" }
      }
    })
  }
}

const nothing: Changes = { steps: [], settle: () => {} }

const jsonOf = (value: unknown): unknown => (value === undefined ? null : toJsonValue(value))

const queryOf = (handle: Handle) => (handle.query !== undefined ? { query: handle.query } : {})

/** The fields every record has. */
const base = (handle: Handle) => ({
  name: handle.name,
  snapshot: jsonOf(handle.snapshot) as StoredHandle["snapshot"],
  ...(handle.description !== undefined ? { description: handle.description } : {}),
  ...(handle.lineage !== undefined ? { lineage: jsonOf(handle.lineage) as Schema.Json } : {})
})

/** A stored record as a handle: its value, file or query, and its lineage when it decodes. */
const handleOf = (record: StoredHandle): Handle => {
  const lineage = record.lineage === undefined ? undefined : Option.getOrUndefined(decodeLineage(record.lineage))
  const handle: { -readonly [K in keyof Handle]: Handle[K] } = {
    name: record.name,
    value: record.value,
    snapshot: record.snapshot as unknown as Snapshot
  }
  if (record.description !== undefined) handle.description = record.description
  if (record.path !== undefined) handle.path = record.path
  if (record.format !== undefined && FORMATS.has(record.format)) handle.format = record.format as FileFormat
  if (record.query !== undefined) handle.query = record.query
  if (lineage !== undefined) handle.lineage = lineage
  return handle
}
