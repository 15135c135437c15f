/**
 * A local HTTP server for the conformance runners: each POST takes the next queued body (or the
 * default one) and sends it as an event stream, as the real API would; every request body is kept.
 */
import * as LocalServer from "../../test/utils/localServer.js"

/** A body to answer with, and its content type. */
export interface Reply {
  readonly body: Uint8Array | string
  readonly contentType?: string | undefined
}

/** A running server. */
export interface ReplayServer {
  /** The base URL, e.g. `http://127.0.0.1:43210`. */
  readonly url: string
  /** The JSON bodies of the requests received so far. */
  readonly requests: ReadonlyArray<unknown>
  readonly close: () => Promise<void>
}

/** Starts a server on 127.0.0.1 that answers with `replies` in order, then with `fallback`. */
export const start = async (replies: ReadonlyArray<Reply>, fallback: Reply): Promise<ReplayServer> => {
  const queue = [...replies]
  const requests: Array<unknown> = []
  const local = await LocalServer.listen((req, res) =>
    LocalServer.readBody(req, (_, json) => {
      requests.push(json)
      const reply = queue.shift() ?? fallback
      res.writeHead(200, {
        "content-type": reply.contentType ?? "text/event-stream; charset=utf-8",
        "request-id": `req_conformance_${requests.length}`
      })
      res.end(reply.body)
    })
  )
  return { url: `http://127.0.0.1:${local.port}`, requests, close: local.close }
}
