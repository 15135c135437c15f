/**
 * Runner processes for the two-runner suite and the bench: `runnerChild.ts` bundled once with
 * esbuild (its packages left external, so the bundle lives under `node_modules/.cache` where they
 * resolve), spawned with `node`, and followed through the lines it prints.
 */
import * as ChildProcess from "node:child_process"
import * as Crypto from "node:crypto"
import * as Net from "node:net"
import * as Path from "node:path"
import { fileURLToPath } from "node:url"
import { Effect, type Scope } from "effect"
import { build } from "esbuild"
import type { Cluster } from "../../src/cluster/index.js"
import type * as Postgres from "../utils/postgres.js"
import type { Spec } from "./runnerChild.js"

const root = fileURLToPath(new URL("../../", import.meta.url))

let bundled: Promise<string> | undefined

/**
 * The bundled runner (made once per process). Named after the checkout it was built from: git
 * worktrees may share one `node_modules`, and each must run its own runner.
 */
export const bundleRunner = (): Promise<string> => {
  bundled ??= (async () => {
    const checkout = Crypto.createHash("sha256").update(root).digest("hex").slice(0, 12)
    const outfile = Path.join(root, "node_modules", ".cache", "data-harness-cluster", `runnerChild-${checkout}.mjs`)
    await build({
      entryPoints: [fileURLToPath(new URL("./runnerChild.ts", import.meta.url))],
      bundle: true,
      packages: "external",
      platform: "node",
      format: "esm",
      outfile,
      logLevel: "silent"
    })
    return outfile
  })()
  return bundled
}

/** A free TCP port on 127.0.0.1. */
export const freePort = (): Promise<number> =>
  new Promise((resolve, reject) => {
    const server = Net.createServer()
    server.once("error", reject)
    server.listen(0, "127.0.0.1", () => {
      const port = (server.address() as Net.AddressInfo).port
      server.close(() => resolve(port))
    })
  })

/** A runner process. */
export interface Runner {
  readonly name: string
  readonly port: number
  /** The URL of its HTTP front (`Cluster.layerHttp`), when its spec has `http`. */
  readonly url: string | undefined
  /** The runner's address as `Done.runner` and `History.runner` name it. */
  readonly address: string
  readonly pid: number
  /** The shards it held at its last report. */
  readonly shards: () => number
  /** Resolves when its shard count satisfies `f` (at once if it does now). */
  readonly whenShards: (f: (shards: number) => boolean) => Promise<number>
  /** Kills it with `signal` and resolves when it exited. */
  readonly kill: (signal: NodeJS.Signals) => Promise<void>
  /** What it wrote to stderr, and the lines of stdout it did not understand (logs), for failure messages. */
  readonly stderr: () => string
}

/** Starts a runner and resolves once its layer is built (`up`). */
export const spawnRunner = async (spec: Spec): Promise<Runner> => {
  const bundle = await bundleRunner()
  const child = ChildProcess.spawn(process.execPath, [bundle, JSON.stringify(spec)], {
    stdio: ["ignore", "pipe", "pipe"],
    cwd: root
  })
  let shards = 0
  let stderr = ""
  let buffered = ""
  let up: (() => void) | undefined
  const waiters = new Set<{ readonly f: (n: number) => boolean; readonly resolve: (n: number) => void }>()
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()))
  child.stderr.on("data", (chunk: Buffer) => {
    stderr += chunk.toString()
  })
  child.stdout.on("data", (chunk: Buffer) => {
    buffered += chunk.toString()
    for (let newline = buffered.indexOf("\n"); newline >= 0; newline = buffered.indexOf("\n")) {
      const line = buffered.slice(0, newline)
      buffered = buffered.slice(newline + 1)
      if (line === "up") up?.()
      else if (!line.startsWith("shards ")) stderr += `${line}\n`
      if (line.startsWith("shards ")) {
        shards = Number(line.slice("shards ".length))
        for (const waiter of waiters) {
          if (waiter.f(shards)) {
            waiters.delete(waiter)
            waiter.resolve(shards)
          }
        }
      }
    }
  })
  await new Promise<void>((resolve, reject) => {
    const guard = setTimeout(() => {
      child.kill("SIGKILL")
      reject(new Error(`runner ${spec.name} was not up in 60 s; stderr: ${stderr}`))
    }, 60_000)
    const early = (code: number | null, signal: NodeJS.Signals | null) => {
      clearTimeout(guard)
      reject(new Error(`runner ${spec.name} exited (${code ?? signal}) before it was up: ${stderr}`))
    }
    child.once("exit", early)
    up = () => {
      clearTimeout(guard)
      child.off("exit", early)
      resolve()
    }
  })
  return {
    name: spec.name,
    port: spec.port,
    url: spec.http === undefined ? undefined : `http://127.0.0.1:${spec.http.port}`,
    address: `127.0.0.1:${spec.port}`,
    pid: child.pid!,
    shards: () => shards,
    whenShards: (f) =>
      f(shards)
        ? Promise.resolve(shards)
        : new Promise((resolve) => {
            waiters.add({ f, resolve })
          }),
    kill: (signal) => {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal)
      return exited
    },
    stderr: () => stderr
  }
}

/** The specs of `count` runners on one server, each on a free port (and its HTTP front on another, given `tokens`). */
export const specs = async (
  server: Postgres.Server,
  sharding: Cluster.ShardingOptions,
  names: ReadonlyArray<string>,
  tokens?: ReadonlyArray<{ tenant: string; token: string }>
): Promise<ReadonlyArray<Spec>> => {
  const out: Array<Spec> = []
  for (const name of names) {
    out.push({
      name,
      port: await freePort(),
      postgres: { socketDirectory: server.socketDirectory, port: server.port },
      sharding,
      ...(tokens === undefined ? {} : { http: { port: await freePort(), tokens } })
    })
  }
  return out
}

/** Runners started in a scope, killed (SIGKILL) when it closes if they still run. */
export const start = (spec: Spec): Effect.Effect<Runner, never, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.promise(() => spawnRunner(spec)),
    (runner) => Effect.promise(() => runner.kill("SIGKILL"))
  )
