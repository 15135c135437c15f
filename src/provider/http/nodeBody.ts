/**
 * Pull-based access to a Node readable, for the provider's body reader: see {@link NodeBody}.
 * @internal
 */
import type { Readable } from "node:stream"

/**
 * Pull-based access to a Node readable: `next` hands over everything buffered, or waits for the
 * next chunk, the end, or an error. One caller at a time.
 *
 * The readable flows ('data' events) while somebody waits, and is paused when a chunk arrives
 * with nobody waiting (kept here until the next `next`). Paused mode ('readable' and `read()`)
 * costs two `process.nextTick`s and a buffer copy per chunk; with 1,000 streams that trickle one
 * event per network read, that was a large part of the client's work per event.
 * @internal
 */
export class NodeBody {
  private waiter: ((result: Uint8Array | undefined) => void) | undefined = undefined
  private onError: ((error: unknown) => void) | undefined = undefined
  private buffered: Array<Uint8Array> = []
  private error: unknown = undefined
  private ended = false

  constructor(private readonly source: Readable) {
    source.on("data", (chunk: Uint8Array) => {
      const waiter = this.waiter
      if (waiter !== undefined) {
        this.waiter = undefined
        this.onError = undefined
        waiter(chunk)
      } else {
        this.buffered.push(chunk)
        source.pause()
      }
    })
    source.on("end", () => {
      this.ended = true
      this.wake()
    })
    source.on("error", (error) => {
      // as undici: a body that fails to arrive (reset, bad chunking, bad compression) is a
      // TypeError "terminated" with the reason as its cause; an abort stays an AbortError
      if (this.error === undefined) {
        this.error = error.name === "AbortError" ? error : new TypeError("terminated", { cause: error })
      }
      this.wake()
    })
    source.on("close", () => {
      // closed before its end without an error event (destroyed): a cut-short body
      if (!this.ended && this.error === undefined) this.error = connectionReset()
      this.wake()
    })
  }

  /** Calls `onChunk` with the next bytes (`undefined` at the end), or `onError`; maybe synchronously. */
  next(onChunk: (chunk: Uint8Array | undefined) => void, onError: (error: unknown) => void): void {
    const buffered = this.buffered
    if (buffered.length > 0) {
      this.buffered = []
      onChunk(buffered.length === 1 ? buffered[0]! : Buffer.concat(buffered))
    } else if (this.error !== undefined) onError(this.error)
    else if (this.ended) onChunk(undefined)
    else {
      this.waiter = onChunk
      this.onError = onError
      if (this.source.isPaused()) this.source.resume()
    }
  }

  /** Stops reading and releases the connection (it is not reused). */
  cancel(): void {
    this.ended = true
    this.source.destroy()
  }

  private readonly wake = (): void => {
    const waiter = this.waiter
    const onError = this.onError
    if (waiter === undefined || onError === undefined) return
    this.waiter = undefined
    this.onError = undefined
    this.next(waiter, onError)
  }
}

const connectionReset = () =>
  Object.assign(new Error("the connection closed before the response ended"), { code: "ECONNRESET" })
