/**
 * The primitives every database operation is built from: one DuckDB call as an interruptible
 * Effect, statements, transactions, and what kind of relation a name is. Callers hold the
 * database's lock.
 * @since 0.1.0
 */
import type { DuckDBConnection } from "@duckdb/node-api"
import { Effect, Exit } from "effect"
import { SqlError } from "../errors.js"
import { quoteIdentifier } from "../sqlText.js"

/**
 * A connection with its primitives. `E` of each is chosen by the caller through `onError`, which
 * turns DuckDB's message into the caller's error.
 * @since 0.1.0
 */
export interface Connection {
  readonly connection: DuckDBConnection
  /**
   * Runs one DuckDB call. On interruption it interrupts the connection (again every 10 ms, until
   * the call settles) and waits for the call to settle, so the next operation never starts while
   * DuckDB is still busy.
   */
  readonly attempt: <A, E>(call: () => Promise<A>, onError: (message: string) => E) => Effect.Effect<A, E>
  /** Runs SQL and materialises its result. */
  readonly run: <E>(
    sql: string,
    onError: (message: string) => E
  ) => Effect.Effect<Awaited<ReturnType<DuckDBConnection["run"]>>, E>
  /** Runs `body` in a transaction: committed on success, rolled back on failure or interruption. */
  readonly transaction: <A, E, E2>(
    body: Effect.Effect<A, E>,
    onError: (message: string) => E2
  ) => Effect.Effect<A, E | E2>
  /** Whether `name` is a table or a view (DuckDB names are case-insensitive), if it exists. */
  readonly kindOf: <E>(name: string, onError: (message: string) => E) => Effect.Effect<"TABLE" | "VIEW" | undefined, E>
  /** Drops `name` if it exists as the given kind (so it can be replaced by the other kind). */
  readonly dropIfKind: <E>(
    name: string,
    kind: "TABLE" | "VIEW",
    onError: (message: string) => E
  ) => Effect.Effect<void, E>
}

/**
 * The message of a thrown value.
 * @since 0.1.0
 */
export const errorMessage = (cause: unknown): string => (cause instanceof Error ? cause.message : String(cause))

/**
 * An `onError` that makes an {@link SqlError} prefixed with what failed.
 * @since 0.1.0
 */
export const sqlError =
  (prefix: string, sql: string) =>
  (message: string): SqlError =>
    new SqlError({ message: `${prefix}: ${message}`, sql })

/** How often an interrupted call is interrupted again until it settles. */
const INTERRUPT_REPEAT_MS = 10

const KIND_SQL =
  "SELECT table_type FROM information_schema.tables " +
  "WHERE table_catalog = current_database() AND table_schema = current_schema() " +
  "AND lower(table_name) = lower($1)"

/**
 * The primitives over one connection.
 * @since 0.1.0
 */
export const makeConnection = (connection: DuckDBConnection): Connection => {
  const attempt = <A, E>(call: () => Promise<A>, onError: (message: string) => E): Effect.Effect<A, E> =>
    Effect.callback<A, E>((resume) => {
      let promise: Promise<A>
      try {
        promise = call()
      } catch (cause) {
        resume(Effect.fail(onError(errorMessage(cause))))
        return
      }
      promise.then(
        (value) => resume(Effect.succeed(value)),
        (cause: unknown) => resume(Effect.fail(onError(errorMessage(cause))))
      )
      return Effect.promise(() => {
        // DuckDB clears the interrupt flag when a statement starts, so an interrupt that lands
        // while the call is still queued for a worker thread would be lost: repeat it until the
        // call settles
        connection.interrupt()
        const repeat = setInterval(() => connection.interrupt(), INTERRUPT_REPEAT_MS)
        const stop = () => clearInterval(repeat)
        return promise.then(stop, stop)
      })
    })

  const run = <E>(sql: string, onError: (message: string) => E) => attempt(() => connection.run(sql), onError)

  const transaction = <A, E, E2>(body: Effect.Effect<A, E>, onError: (message: string) => E2) =>
    Effect.acquireUseRelease(
      run("BEGIN TRANSACTION", onError),
      () => Effect.flatMap(body, (a) => Effect.as(run("COMMIT", onError), a)),
      (_, exit) => (Exit.isFailure(exit) ? Effect.ignore(run("ROLLBACK", (m) => m)) : Effect.void)
    )

  const kindOf = <E>(name: string, onError: (message: string) => E) =>
    Effect.map(
      attempt(() => connection.runAndReadAll(KIND_SQL, [name]), onError),
      (reader): "TABLE" | "VIEW" | undefined => {
        const type = reader.getRowsJS()[0]?.[0]
        return type === "VIEW" ? "VIEW" : type === undefined ? undefined : "TABLE"
      }
    )

  const dropIfKind = <E>(name: string, kind: "TABLE" | "VIEW", onError: (message: string) => E) =>
    Effect.flatMap(kindOf(name, onError), (existing) =>
      existing === kind ? Effect.asVoid(run(`DROP ${kind} IF EXISTS ${quoteIdentifier(name)}`, onError)) : Effect.void
    )

  return { connection, attempt, run, transaction, kindOf, dropIfKind }
}
