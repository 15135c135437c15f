/**
 * A `node:http` server on 127.0.0.1 at a free port whose `close` destroys every open socket: the
 * base of the test servers (`scriptedServer.ts`) and of the conformance runners' replay server
 * (`scripts/conformance/server.ts`).
 *
 * @example
 * ```ts
 * const server = await LocalServer.listen((req, res) => res.end("ok"))
 * await fetch(`http://127.0.0.1:${server.port}/`)
 * await server.close()
 * ```
 */
import * as Http from "node:http"
import type { AddressInfo, Socket } from "node:net"

/** A listening server. */
export interface LocalServer {
  readonly server: Http.Server
  readonly port: number
  /** How many TCP connections are open right now. */
  readonly openSockets: () => number
  /** Destroys every open socket and closes the server. */
  readonly close: () => Promise<void>
}

/** Starts `handler` listening on 127.0.0.1 at a free port; `keepAliveTimeout` in milliseconds (Node's default 5 s). */
export const listen = async (
  handler: Http.RequestListener,
  options?: { readonly keepAliveTimeout?: number | undefined }
): Promise<LocalServer> => {
  const sockets = new Set<Socket>()
  const server = Http.createServer(handler)
  if (options?.keepAliveTimeout !== undefined) server.keepAliveTimeout = options.keepAliveTimeout
  server.on("connection", (socket) => {
    sockets.add(socket)
    socket.on("close", () => sockets.delete(socket))
  })
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject)
    server.listen(0, "127.0.0.1", () => resolve())
  })
  const { port } = server.address() as AddressInfo
  return {
    server,
    port,
    openSockets: () => sockets.size,
    close: () => {
      for (const socket of sockets) socket.destroy()
      return new Promise<void>((resolve) => server.close(() => resolve()))
    }
  }
}

/** Reads a request's whole body, then calls `onBody` with it as text (and as JSON, `undefined` when it is not JSON). */
export const readBody = (req: Http.IncomingMessage, onBody: (text: string, json: unknown) => void): void => {
  const chunks: Array<Buffer> = []
  req.on("data", (chunk: Buffer) => chunks.push(chunk))
  req.on("end", () => {
    const text = Buffer.concat(chunks).toString("utf8")
    let json: unknown
    try {
      json = JSON.parse(text)
    } catch {
      json = undefined
    }
    onBody(text, json)
  })
}
