/**
 * Starts the bench server ({@link ./serverProcess.ts}) in a child process and talks to it.
 *
 * The server stands in for the model API, which in use runs on other machines and takes none of
 * the client's CPU. Here it shares a 2-core machine with the client it serves, and at 1,000
 * paced streams it needs most of a core (a write per delta, 50,000 a second). So it runs at the
 * lowest scheduling priority (nice 19): when both processes want a core, the client, the thing
 * measured, goes first, as it would against a remote server. Every contender gets the same server.
 * `BENCH_SERVER_PRIORITY=normal` runs it at the client's priority instead.
 * @since 0.1.0
 */
import { type ChildProcess, fork } from "node:child_process"
import * as Os from "node:os"
import { fileURLToPath } from "node:url"

/**
 * A running bench server.
 * @since 0.1.0
 */
export interface BenchServer {
  /** The `baseURL` for the SDK, e.g. `http://127.0.0.1:40123`. */
  readonly url: string
  /** Resolves with the time (machine-wide monotonic ms) the socket of request `id` closed. */
  readonly closedAt: (id: number, timeoutMs: number) => Promise<number | undefined>
  /** The server process's CPU time so far (user + system, ms). */
  readonly cpuMs: () => Promise<number>
  readonly stop: () => Promise<void>
  /** The server process's scheduling priority: `low` (nice 19) or `normal` (the client's). */
  readonly priority: "low" | "normal"
}

/**
 * The node flags for a child process: those of this process (the tsx loader) without profiling
 * flags, plus `extra`.
 * @since 0.1.0
 */
export const childExecArgv = (extra: ReadonlyArray<string> = []): Array<string> => [
  ...process.execArgv.filter((flag) => !flag.startsWith("--cpu-prof") && !flag.startsWith("--heap-prof")),
  ...extra
]

/**
 * Forks the server and waits until it listens.
 * @since 0.1.0
 */
export const startServer = (): Promise<BenchServer> =>
  new Promise((resolve, reject) => {
    const child: ChildProcess = fork(fileURLToPath(new URL("./serverProcess.ts", import.meta.url)), [], {
      execArgv: childExecArgv(),
      stdio: ["ignore", "inherit", "inherit", "ipc"]
    })
    // lowering a child's priority needs no privileges; where it fails the server runs at normal priority
    let priority: "low" | "normal" = "normal"
    if (process.env.BENCH_SERVER_PRIORITY !== "normal" && child.pid !== undefined) {
      try {
        Os.setPriority(child.pid, 19)
        priority = "low"
      } catch {
        // normal priority
      }
    }
    const closed = new Map<number, number>()
    const closeWaiters = new Map<number, (at: number) => void>()
    let cpuWaiter: ((ms: number) => void) | undefined
    child.on(
      "message",
      (message: { type: string; port?: number; id?: number; at?: number; usage?: NodeJS.CpuUsage }) => {
        switch (message.type) {
          case "ready":
            resolve({
              url: `http://127.0.0.1:${message.port}`,
              closedAt: (id, timeoutMs) => {
                const at = closed.get(id)
                if (at !== undefined) {
                  closed.delete(id)
                  return Promise.resolve(at)
                }
                return new Promise((done) => {
                  const timer = setTimeout(() => {
                    closeWaiters.delete(id)
                    done(undefined)
                  }, timeoutMs)
                  closeWaiters.set(id, (at) => {
                    clearTimeout(timer)
                    closed.delete(id)
                    done(at)
                  })
                })
              },
              cpuMs: () =>
                new Promise((done) => {
                  cpuWaiter = done
                  child.send({ type: "cpu" })
                }),
              stop: () =>
                new Promise((done) => {
                  child.once("exit", () => done())
                  child.send({ type: "stop" })
                }),
              priority
            })
            break
          case "closed": {
            closed.set(message.id!, message.at!)
            const waiter = closeWaiters.get(message.id!)
            if (waiter !== undefined) {
              closeWaiters.delete(message.id!)
              waiter(message.at!)
            }
            break
          }
          case "cpu": {
            const waiter = cpuWaiter
            cpuWaiter = undefined
            waiter?.((message.usage!.user + message.usage!.system) / 1000)
            break
          }
        }
      }
    )
    child.once("error", reject)
    child.once("exit", (code) => reject(new Error(`the bench server exited with code ${code}`)))
  })
