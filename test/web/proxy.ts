/**
 * A TCP proxy in front of a server, for network drops in tests: `down()` cuts every open
 * connection and refuses new ones until `up()`, as a lost network does. Scoped: closing the scope
 * closes it and every connection.
 */
import * as Net from "node:net"
import { Effect, type Scope } from "effect"

export interface Network {
  /** `http://127.0.0.1:<port>`, forwarding to the target. */
  readonly url: string
  /** Cuts every connection and refuses new ones. */
  readonly down: () => void
  readonly up: () => void
  /** Connections cut by `down` so far. */
  readonly cut: () => number
}

/** A proxy to `target` (`http://host:port`) on a free port of 127.0.0.1, for the scope's life. */
export const network = (target: string): Effect.Effect<Network, never, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.promise(
      () =>
        new Promise<{ proxy: Network; server: Net.Server; sockets: Set<Net.Socket> }>((resolve) => {
          const { hostname, port } = new URL(target)
          const sockets = new Set<Net.Socket>()
          let isDown = false
          let cut = 0
          const server = Net.createServer((client) => {
            if (isDown) {
              client.destroy()
              return
            }
            const upstream = Net.connect(Number(port), hostname)
            for (const socket of [client, upstream]) {
              sockets.add(socket)
              socket.on("close", () => sockets.delete(socket))
              socket.on("error", () => undefined)
            }
            client.pipe(upstream).pipe(client)
            client.on("close", () => upstream.destroy())
            upstream.on("close", () => client.destroy())
          })
          server.listen(0, "127.0.0.1", () => {
            const address = server.address() as Net.AddressInfo
            resolve({
              server,
              sockets,
              proxy: {
                url: `http://127.0.0.1:${address.port}`,
                down: () => {
                  isDown = true
                  cut += sockets.size / 2
                  for (const socket of sockets) socket.destroy()
                },
                up: () => {
                  isDown = false
                },
                cut: () => cut
              }
            })
          })
        })
    ),
    ({ server, sockets }) =>
      Effect.promise(
        () =>
          new Promise<void>((resolve) => {
            for (const socket of sockets) socket.destroy()
            server.close(() => resolve())
          })
      )
  ).pipe(Effect.map(({ proxy }) => proxy))
