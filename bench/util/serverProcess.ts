/**
 * The bench server: a separate process (so it runs on the other core and its CPU is not the
 * client's) that answers `POST /v1/messages` with Anthropic SSE. The model name of the request
 * picks the scenario:
 *
 * - `stream:<n>`: `n` text deltas, pre-rendered once and written as one buffer, so the server is
 *   never the bottleneck.
 * - `paced:<count>:<intervalMs>[:<firstMs>]`: `count` deltas, the first `firstMs` (default 0)
 *   plus a random phase below `intervalMs` after the request (a model's time to first token), then
 *   one every `intervalMs`, each carrying its send time as text `t=<ms>;` (machine-wide monotonic
 *   clock).
 * - `forever:<intervalMs>`: a delta at once, then one every `intervalMs` until the client goes;
 *   the time the socket closes is sent to the parent as `{ type: "closed", id, at }`.
 *
 * Parent messages: `{ type: "cpu" }` (answered with `{ type: "cpu", usage }`), `{ type: "stop" }`.
 * Started by `server.ts`; not meant to be run by hand.
 * @since 0.1.0
 */
import * as Http from "node:http"
import type { AddressInfo } from "node:net"
import { nowMs } from "./clock.js"
import * as Sse from "./sse.js"

const send = (message: unknown) => {
  if (process.send !== undefined && process.connected) process.send(message)
}

const rendered = new Map<number, Buffer>()
const renderedFor = (n: number, model: string): Buffer => {
  let bytes = rendered.get(n)
  if (bytes === undefined) {
    bytes = Sse.render(n, "msg_bench_stream", model)
    rendered.set(n, bytes)
  }
  return bytes
}

const sseHeaders = (id: number) => ({
  "content-type": "text/event-stream",
  "cache-control": "no-cache",
  "request-id": `req_bench_${id}`
})

let requests = 0

const serve = (req: Http.IncomingMessage, res: Http.ServerResponse, body: string) => {
  const id = requests++
  let model = ""
  try {
    model = String((JSON.parse(body) as { model?: unknown }).model ?? "")
  } catch {
    // not JSON: unknown scenario below
  }
  const [kind, a, b, c] = model.split(":")
  if (kind === "stream") {
    const bytes = renderedFor(Number(a), model)
    res.writeHead(200, sseHeaders(id))
    res.end(bytes)
    return
  }
  if (kind === "paced" || kind === "forever") {
    const count = kind === "paced" ? Number(a) : Number.POSITIVE_INFINITY
    const interval = Number(kind === "paced" ? b : a)
    const socket = req.socket
    let timer: NodeJS.Timeout | undefined
    let sent = 0
    let closed = false
    const onClose = () => {
      const at = nowMs()
      closed = true
      if (timer !== undefined) clearTimeout(timer)
      if (kind === "forever") send({ type: "closed", id, at })
    }
    // a keep-alive socket outlives the response: the listener goes when the response is done
    socket.once("close", onClose)
    res.writeHead(200, sseHeaders(id))
    res.write(Sse.head(`msg_bench_${id}`, model))
    const start = nowMs()
    // paced streams start after their time to first token, at a random phase, as independent
    // model streams do
    const phase = kind === "paced" ? Number(c ?? 0) + Math.random() * interval : 0
    const tick = () => {
      timer = undefined
      if (closed) return
      res.write(Sse.delta(`t=${nowMs()};`))
      sent++
      if (sent >= count) {
        socket.off("close", onClose)
        res.end(Sse.tail(count))
        return
      }
      const due = start + phase + sent * interval
      timer = setTimeout(tick, Math.max(0, due - nowMs()))
    }
    if (phase === 0) tick()
    else timer = setTimeout(tick, phase)
    return
  }
  res.writeHead(400, { "content-type": "application/json" })
  res.end(
    JSON.stringify({
      type: "error",
      error: { type: "invalid_request_error", message: `unknown bench scenario "${model}"` }
    })
  )
}

const server = Http.createServer({ noDelay: true, keepAliveTimeout: 60_000 }, (req, res) => {
  const chunks: Array<Buffer> = []
  req.on("data", (chunk: Buffer) => chunks.push(chunk))
  req.on("end", () => serve(req, res, Buffer.concat(chunks).toString("utf8")))
})
server.headersTimeout = 0
server.requestTimeout = 0

process.on("message", (message: { readonly type?: string }) => {
  if (message.type === "cpu") send({ type: "cpu", usage: process.cpuUsage() })
  if (message.type === "stop") {
    server.closeAllConnections()
    server.close(() => process.exit(0))
  }
})
process.on("disconnect", () => process.exit(0))

server.listen({ port: 0, host: "127.0.0.1", backlog: 4096 }, () => {
  send({ type: "ready", port: (server.address() as AddressInfo).port })
})
