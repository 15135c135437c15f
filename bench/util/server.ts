/**
 * Starts the bench server ({@link ./serverProcess.ts}) in a child process and talks to it.
 * @since 0.1.0
 */
import { type ChildProcess, fork } from "node:child_process"
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
                })
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
