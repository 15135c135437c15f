/**
 * Helpers for the server tests: a server on a random port over the scripted model, HTTP calls
 * with a tenant's token, and an SSE reader that keeps each event's id.
 */
import { Context, Effect, Layer, Schedule, type Scope } from "effect"
import { HttpServer } from "effect/http"
import { Mock } from "../../src/index.js"
import { Server, ServerSessions } from "../../src/server/index.js"

export const TOKEN_A = "token-tenant-a"
export const TOKEN_B = "token-tenant-b"

export interface Started {
  readonly url: string
  readonly sessions: ServerSessions.Service
}

/**
 * Starts the server on port 0 over `Mock.layer(mock)`, for the scope's life; two tenants, `a`
 * and `b`, with {@link TOKEN_A} and {@link TOKEN_B}.
 */
export const startServer = (
  mock: Mock.Options,
  options: Partial<Server.ServeOptions> = {}
): Effect.Effect<Started & { readonly context: Context.Context<Mock.Recorder> }, never, Scope.Scope> =>
  Effect.gen(function* () {
    const layer = Server.layer({
      port: 0,
      tokens: [
        { tenant: "a", token: TOKEN_A },
        { tenant: "b", token: TOKEN_B }
      ],
      ...options
    }).pipe(Layer.provideMerge(Mock.layer(mock)))
    const context = yield* Layer.build(layer).pipe(Effect.orDie)
    const server = Context.get(context, HttpServer.HttpServer)
    return {
      url: HttpServer.formatAddress(server.address),
      sessions: Context.get(context, ServerSessions.ServerSessions),
      context: context as Context.Context<Mock.Recorder>
    }
  })

/** A JSON call with a token; the status and the parsed body. */
export const call = (
  url: string,
  method: string,
  path: string,
  options: { readonly token?: string | null; readonly body?: unknown; readonly headers?: Record<string, string> } = {}
): Effect.Effect<{ readonly status: number; readonly body: any; readonly headers: Headers }> =>
  Effect.promise(async () => {
    const token = options.token === undefined ? TOKEN_A : options.token
    const response = await fetch(url + path, {
      method,
      headers: {
        ...(token === null ? {} : { authorization: `Bearer ${token}` }),
        ...(options.body === undefined ? {} : { "content-type": "application/json" }),
        ...options.headers
      },
      ...(options.body === undefined
        ? {}
        : { body: typeof options.body === "string" ? options.body : JSON.stringify(options.body) })
    })
    const text = await response.text()
    let body: unknown = text
    try {
      body = text.length === 0 ? undefined : JSON.parse(text)
    } catch {}
    return { status: response.status, body, headers: response.headers }
  })

/** Waits until the session runs no ask (polling its info; a wait, never an assertion). */
export const awaitIdle = (url: string, id: string, token = TOKEN_A) =>
  call(url, "GET", `/v1/sessions/${id}`, { token }).pipe(
    Effect.repeat({
      until: (response) => response.body.running_ask === null,
      schedule: Schedule.spaced("5 millis")
    }),
    Effect.asVoid
  )

/** Creates a session for a token; its id. */
export const createSession = (url: string, token = TOKEN_A, system?: string) =>
  Effect.map(call(url, "POST", "/v1/sessions", { token, body: system === undefined ? {} : { system } }), (r) => {
    if (r.status !== 201) throw new Error(`create failed: ${r.status} ${JSON.stringify(r.body)}`)
    return r.body.id as string
  })

export interface SseEvent {
  readonly id: string | undefined
  readonly event: string
  readonly data: any
}

/** Parses SSE text into events (comments skipped). */
export const parseSse = (text: string): { readonly events: ReadonlyArray<SseEvent>; readonly rest: string } => {
  const events: Array<SseEvent> = []
  const records = text.split("\n\n")
  const rest = records.pop() ?? ""
  for (const record of records) {
    let id: string | undefined
    let event = "message"
    const data: Array<string> = []
    for (const line of record.split("\n")) {
      if (line.startsWith(":") || line.length === 0) continue
      const at = line.indexOf(":")
      const field = at < 0 ? line : line.slice(0, at)
      const value = at < 0 ? "" : line.slice(at + 1).replace(/^ /, "")
      if (field === "id") id = value
      else if (field === "event") event = value
      else if (field === "data") data.push(value)
    }
    if (data.length > 0) events.push({ id, event, data: JSON.parse(data.join("\n")) })
  }
  return { events, rest }
}

/**
 * An open SSE response read event by event: `next(until)` reads until `until` holds for an event
 * (returning the events read), `rest` reads to the end, `close` drops the connection.
 */
export interface SseReader {
  readonly status: number
  readonly headers: Headers
  readonly events: Array<SseEvent>
  readonly until: (predicate: (event: SseEvent) => boolean) => Effect.Effect<ReadonlyArray<SseEvent>>
  readonly toEnd: Effect.Effect<ReadonlyArray<SseEvent>>
  readonly close: Effect.Effect<void>
  readonly body: any
}

/** Opens an SSE request; a non-SSE response is read whole into `body`. */
export const openSse = (
  url: string,
  method: string,
  path: string,
  options: { readonly token?: string; readonly body?: unknown; readonly headers?: Record<string, string> } = {}
): Effect.Effect<SseReader> =>
  Effect.promise(async (): Promise<SseReader> => {
    const controller = new AbortController()
    const response = await fetch(url + path, {
      method,
      signal: controller.signal,
      headers: {
        authorization: `Bearer ${options.token ?? TOKEN_A}`,
        accept: "text/event-stream",
        ...(options.body === undefined ? {} : { "content-type": "application/json" }),
        ...options.headers
      },
      ...(options.body === undefined ? {} : { body: JSON.stringify(options.body) })
    })
    const events: Array<SseEvent> = []
    if (!(response.headers.get("content-type") ?? "").includes("text/event-stream")) {
      const text = await response.text()
      let body: unknown = text
      try {
        body = JSON.parse(text)
      } catch {}
      const none = Effect.succeed([] as ReadonlyArray<SseEvent>)
      return {
        status: response.status,
        headers: response.headers,
        events,
        until: () => none,
        toEnd: none,
        close: Effect.void,
        body
      }
    }
    const reader = response.body!.getReader()
    const decoder = new TextDecoder()
    let buffer = ""
    let done = false
    let read = 0
    const pump = async (predicate: (event: SseEvent) => boolean): Promise<ReadonlyArray<SseEvent>> => {
      const start = read
      for (;;) {
        while (read < events.length) {
          if (predicate(events[read++]!)) return events.slice(start, read)
        }
        if (done) return events.slice(start, read)
        const chunk = await reader.read()
        if (chunk.done) {
          done = true
          continue
        }
        buffer += decoder.decode(chunk.value, { stream: true })
        const parsed = parseSse(buffer)
        buffer = parsed.rest
        events.push(...parsed.events)
      }
    }
    return {
      status: response.status,
      headers: response.headers,
      events,
      until: (predicate) => Effect.promise(() => pump(predicate)),
      toEnd: Effect.promise(() => pump(() => false)),
      close: Effect.sync(() => controller.abort()),
      body: undefined
    }
  })
