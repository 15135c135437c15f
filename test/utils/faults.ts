/**
 * Helpers for fault-injection tests against the local Anthropic test server: SSE turns built
 * from text pieces, byte offsets to cut a stream at, scripts that time requests, a port that
 * refuses connections, and counts of the process's active handles for leak checks.
 */
import * as DiagnosticsChannel from "node:diagnostics_channel"
import * as Net from "node:net"
import { Effect } from "effect"
import * as AnthropicServer from "./anthropicServer.js"

let nextId = 0

/** A wire event: its `type` and whatever else it carries. */
export type WireEvent = { readonly type: string; readonly [key: string]: unknown }

/** A `message_start` event of a fault script. */
const messageStart = (id?: string | undefined): WireEvent => ({
  type: "message_start",
  message: {
    id: id ?? `msg_fault_${++nextId}`,
    type: "message",
    role: "assistant",
    model: "claude-test",
    content: [],
    stop_reason: null,
    stop_sequence: null,
    usage: { input_tokens: 10, output_tokens: 1 }
  }
})

/** The wire events of one text turn that streams `pieces` as its text deltas. */
export const textEvents = (
  pieces: ReadonlyArray<string>,
  options: { readonly id?: string | undefined } = {}
): Array<WireEvent> => [
  messageStart(options.id),
  { type: "content_block_start", index: 0, content_block: { type: "text", text: "" } },
  ...pieces.map((text) => ({ type: "content_block_delta", index: 0, delta: { type: "text_delta", text } })),
  { type: "content_block_stop", index: 0 },
  {
    type: "message_delta",
    delta: { stop_reason: "end_turn", stop_sequence: null },
    usage: { output_tokens: pieces.length + 1 }
  },
  { type: "message_stop" }
]

/** One text turn as SSE bytes. */
export const textSse = (pieces: ReadonlyArray<string>, options: { readonly id?: string | undefined } = {}): string =>
  AnthropicServer.sse(textEvents(pieces, options))

/** One turn that calls tool `name` with `input` (streamed as one `input_json_delta`), as SSE. */
export const toolUseSse = (id: string, name: string, input: unknown): string => {
  const events: Array<WireEvent> = [
    messageStart(),
    { type: "content_block_start", index: 0, content_block: { type: "tool_use", id, name, input: {} } },
    { type: "content_block_delta", index: 0, delta: { type: "input_json_delta", partial_json: JSON.stringify(input) } },
    { type: "content_block_stop", index: 0 },
    { type: "message_delta", delta: { stop_reason: "tool_use", stop_sequence: null }, usage: { output_tokens: 5 } },
    { type: "message_stop" }
  ]
  return AnthropicServer.sse(events)
}

/**
 * The byte length of `sse` up to the end of the `n`-th (1-based) SSE frame, so a reply cut at
 * that offset delivers exactly the first `n` events whole.
 */
export const bytesThroughFrame = (sse: string, n: number): number => {
  let offset = 0
  for (let i = 0; i < n; i++) {
    const end = sse.indexOf("\n\n", offset)
    if (end < 0) throw new Error(`the SSE has fewer than ${n} frames`)
    offset = end + 2
  }
  return Buffer.byteLength(sse.slice(0, offset), "utf8")
}

/** A script that answers with `reply` and pushes the arrival time (ms, `performance.now()`) to `times`. */
export const timed =
  (times: Array<number>, reply: AnthropicServer.Reply): AnthropicServer.Script =>
  () => {
    times.push(performance.now())
    return reply
  }

/** A `baseURL` on 127.0.0.1 whose port refuses connections (a server was opened there and closed). */
export const refusedURL: Effect.Effect<string> = Effect.promise(
  () =>
    new Promise<string>((resolve, reject) => {
      const server = Net.createServer()
      server.once("error", reject)
      server.listen(0, "127.0.0.1", () => {
        const { port } = server.address() as Net.AddressInfo
        server.close(() => resolve(`http://127.0.0.1:${port}`))
      })
    })
)

/** A `fetch` that counts its calls, for the SDK client's `clientOptions.fetch`. */
export const countingFetch = (): { readonly fetch: typeof globalThis.fetch; readonly calls: () => number } => {
  let calls = 0
  return {
    fetch: (input, init) => {
      calls++
      return globalThis.fetch(input, init)
    },
    calls: () => calls
  }
}

/** Waits for a promise with a real-time limit (for server outcomes in `it.live` tests). */
export const within = <A>(millis: number, what: string, promise: () => Promise<A>): Effect.Effect<A, Error> =>
  Effect.promise(promise).pipe(
    Effect.timeoutOrElse({
      duration: millis,
      orElse: () => Effect.fail(new Error(`${what} did not happen within ${millis} ms`))
    })
  )

// active handles

/** The resource types that leak checks compare: sockets (client and server side) and timers. */
export const leakTypes = ["TCPSocketWrap", "TCPWrap", "TCPServerWrap", "Timeout"] as const

/** `process.getActiveResourcesInfo()` counted by type. */
export const activeResources = (): Record<string, number> => {
  const counts: Record<string, number> = {}
  for (const type of process.getActiveResourcesInfo()) counts[type] = (counts[type] ?? 0) + 1
  return counts
}

/** The counts of {@link leakTypes} only (0 when absent). */
export const leakCounts = (): Record<(typeof leakTypes)[number], number> => {
  const all = activeResources()
  return Object.fromEntries(leakTypes.map((type) => [type, all[type] ?? 0])) as Record<
    (typeof leakTypes)[number],
    number
  >
}

const sameCounts = (a: Record<string, number>, b: Record<string, number>) =>
  leakTypes.every((type) => (a[type] ?? 0) === (b[type] ?? 0))

/**
 * Polls (real time) until the {@link leakCounts} equal `target`, up to `limitMillis`; returns the
 * last counts, equal or not, so the caller asserts on them.
 */
export const settleTo = (
  target: Record<string, number>,
  limitMillis = 5_000
): Effect.Effect<Record<(typeof leakTypes)[number], number>> =>
  Effect.promise(async () => {
    // Measure outside any timer callback: a timer counts as active while its callback runs.
    await new Promise<void>((resolve) => setImmediate(resolve))
    const deadline = performance.now() + limitMillis
    let counts = leakCounts()
    while (!sameCounts(counts, target) && performance.now() < deadline) {
      await new Promise<void>((resolve) => setTimeout(resolve, 25))
      counts = leakCounts()
    }
    return counts
  })

/**
 * Polls (real time) until the counts stop changing for `quietMillis`, up to `limitMillis`, and
 * returns them: a baseline taken after transient handles (timers of finished work) are gone.
 */
export const quiescent = (quietMillis = 200, limitMillis = 3_000): Effect.Effect<Record<string, number>> =>
  Effect.promise(async () => {
    await new Promise<void>((resolve) => setImmediate(resolve))
    const deadline = performance.now() + limitMillis
    let counts = leakCounts() as Record<string, number>
    let since = performance.now()
    while (performance.now() < deadline && performance.now() - since < quietMillis) {
      await new Promise<void>((resolve) => setTimeout(resolve, 25))
      const next = leakCounts()
      if (!sameCounts(next, counts)) {
        counts = next
        since = performance.now()
      }
    }
    return counts
  })

// sockets

/** Open sockets of one side, split by whether they ever carried bytes of a request. */
export interface OpenSockets {
  /** Open sockets that carried (part of) a request: a leak if any remain. */
  readonly used: number
  /** Open sockets that never carried a byte (a connection opened and left idle). */
  readonly unused: number
}

/**
 * Tracks every TCP socket this process opens (`net.client.socket`) or accepts
 * (`net.server.socket`) through `node:diagnostics_channel`, unref'd ones included (which
 * `process.getActiveResourcesInfo()` does not list). `stop` unsubscribes.
 */
export const trackSockets = () => {
  const client = new Set<Net.Socket>()
  const server = new Set<Net.Socket>()
  const onClient = (message: unknown) => client.add((message as { readonly socket: Net.Socket }).socket)
  const onServer = (message: unknown) => server.add((message as { readonly socket: Net.Socket }).socket)
  DiagnosticsChannel.subscribe("net.client.socket", onClient)
  DiagnosticsChannel.subscribe("net.server.socket", onServer)
  const open = (sockets: Set<Net.Socket>, used: (socket: Net.Socket) => boolean): OpenSockets => {
    let usedCount = 0
    let unusedCount = 0
    for (const socket of sockets) {
      if (socket.destroyed) {
        sockets.delete(socket)
        continue
      }
      if (used(socket)) usedCount++
      else unusedCount++
    }
    return { used: usedCount, unused: unusedCount }
  }
  return {
    /** Open client sockets (this process connected); used = wrote bytes. */
    client: () => open(client, (socket) => socket.bytesWritten > 0),
    /** Open server sockets (a local server accepted); used = read bytes. */
    server: () => open(server, (socket) => socket.bytesRead > 0),
    stop: () => {
      DiagnosticsChannel.unsubscribe("net.client.socket", onClient)
      DiagnosticsChannel.unsubscribe("net.server.socket", onServer)
    }
  }
}
