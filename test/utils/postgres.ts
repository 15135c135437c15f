/**
 * A real PostgreSQL 15 server for tests: `initdb` in a temp directory, `pg_ctl start` on a free
 * port (TCP on 127.0.0.1 and a unix socket in the temp directory), and `pg_ctl stop` plus removal
 * of the directory when the scope closes.
 *
 * `initdb` refuses to run as root, so as root every server command runs as the `postgres` user
 * through `runuser` (the Debian package creates that user). When the binaries are missing,
 * {@link missing} says why and what to install, and suites skip with that message.
 *
 * ```ts
 * const server = yield* Postgres.start          // in a scope
 * PgClient.layer(Postgres.clientConfig(server))
 * yield* Postgres.kill(server)                  // as a crash; Postgres.restart(server) brings it back
 * ```
 */
import * as ChildProcess from "node:child_process"
import * as Fs from "node:fs"
import * as Net from "node:net"
import * as Os from "node:os"
import * as Path from "node:path"
import type { PgClient } from "@effect/sql-pg"
import { Effect } from "effect"

/** Where Debian's `postgresql-15` puts its server binaries (override with `PG_BIN`). */
const BIN = process.env.PG_BIN ?? "/usr/lib/postgresql/15/bin"

const isRoot = typeof process.getuid === "function" && process.getuid() === 0

/** Why a server cannot be started here, or `undefined` when it can. */
export const missing = (): string | undefined => {
  for (const tool of ["initdb", "pg_ctl"]) {
    if (!Fs.existsSync(Path.join(BIN, tool))) {
      return (
        `PostgreSQL server binaries not found (${Path.join(BIN, tool)}): install them ` +
        "(apt-get install -y postgresql-15) or set PG_BIN to their directory."
      )
    }
  }
  if (isRoot && !hasPostgresUser()) {
    return "Running as root, but there is no `postgres` user for initdb: install postgresql-15 (it creates the user)."
  }
  return undefined
}

const hasPostgresUser = (): boolean => {
  try {
    ChildProcess.execFileSync("id", ["-u", "postgres"], { stdio: "ignore" })
    return true
  } catch {
    return false
  }
}

/** A running test server. */
export interface Server {
  /** The unix socket directory (libpq's `host` form for sockets). */
  readonly socketDirectory: string
  readonly port: number
  readonly username: "postgres"
  readonly database: "postgres"
  /** The server's data directory. */
  readonly dataDirectory: string
}

/** Runs a server binary, as `postgres` when we are root. */
const run = (tool: string, args: ReadonlyArray<string>): void => {
  const command = Path.join(BIN, tool)
  const [file, argv] = isRoot ? ["runuser", ["-u", "postgres", "--", command, ...args]] : [command, [...args]]
  const result = ChildProcess.spawnSync(file, argv, { encoding: "utf8", timeout: 60_000 })
  if (result.status !== 0) {
    throw new Error(`${tool} failed (${result.status ?? result.signal}): ${result.stderr || result.stdout}`)
  }
}

const freePort = (): Promise<number> =>
  new Promise((resolve, reject) => {
    const server = Net.createServer()
    server.once("error", reject)
    server.listen(0, "127.0.0.1", () => {
      const port = (server.address() as Net.AddressInfo).port
      server.close(() => resolve(port))
    })
  })

/** Starts the server of a data directory on its port. */
const launch = (server: Server): void =>
  run("pg_ctl", [
    "-D",
    server.dataDirectory,
    "-l",
    Path.join(Path.dirname(server.dataDirectory), "log"),
    "-w",
    "-s",
    "-o",
    `-p ${server.port} -k ${server.socketDirectory} -c listen_addresses=127.0.0.1`,
    "start"
  ])

const startServer = async (): Promise<Server> => {
  const root = Fs.mkdtempSync(Path.join(Os.tmpdir(), "dh-pg-"))
  const socketDirectory = Path.join(root, "sock")
  const dataDirectory = Path.join(root, "data")
  Fs.mkdirSync(socketDirectory)
  if (isRoot) ChildProcess.execFileSync("chown", ["-R", "postgres:postgres", root])
  try {
    run("initdb", ["-D", dataDirectory, "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync"])
    // a port taken between the probe and the start fails the start: try a few
    for (let attempt = 1; ; attempt++) {
      const server: Server = {
        socketDirectory,
        port: await freePort(),
        username: "postgres",
        database: "postgres",
        dataDirectory
      }
      try {
        launch(server)
        return server
      } catch (error) {
        if (attempt >= 3) throw error
      }
    }
  } catch (error) {
    Fs.rmSync(root, { recursive: true, force: true })
    throw error
  }
}

const stop = (server: Server): void =>
  run("pg_ctl", ["-D", server.dataDirectory, "-m", "immediate", "-w", "-s", "stop"])

/** Stops a server at once, as a crash would (its data stays). */
export const kill = (server: Server): Effect.Effect<void> => Effect.sync(() => stop(server))

/** Starts a stopped server again, on the same port. */
export const restart = (server: Server): Effect.Effect<void> => Effect.sync(() => launch(server))

const stopServer = (server: Server): void => {
  try {
    stop(server)
  } catch {
    // it was stopped already
  } finally {
    Fs.rmSync(Path.dirname(server.dataDirectory), { recursive: true, force: true })
  }
}

/** Starts a fresh server, stopped and removed when the scope closes. */
export const start = Effect.acquireRelease(
  Effect.promise(() => startServer()),
  (server) => Effect.sync(() => stopServer(server))
)

/** The `PgClient` configuration of a server: its unix socket. */
export const clientConfig = (server: Server): PgClient.PgPoolConfig => ({
  host: server.socketDirectory,
  port: server.port,
  username: server.username,
  database: server.database
})
