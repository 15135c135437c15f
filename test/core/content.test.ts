/**
 * Images and documents in messages: the Schemas accept what the Messages API accepts (JPEG, PNG,
 * GIF and WebP images and PDF documents, as base64 or an http(s) URL) and say what is wrong with
 * anything else, before it reaches a provider.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { Message } from "../../src/index.js"

const png = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg=="
const gif = "R0lGODlhAQABAA=="
const pdf = "JVBERi0xLjQKMSAwIG9iajw8Pj5lbmRvYmoKdHJhaWxlcjw8Pj4KJSVFT0YK"

/** The decode failure's message for one block, or `undefined` when it decodes. */
const problem = (block: unknown) =>
  Effect.map(Effect.flip(Message.decodeContent([block])), (error) => String(error.message)).pipe(
    Effect.catchCause(() => Effect.succeed(undefined))
  )

describe("Message: images and documents", () => {
  it.effect("images by base64 (each format) and URL, PDFs by base64 and URL decode as they are", () =>
    Effect.gen(function* () {
      const blocks = [
        Message.image({ data: png, mediaType: "image/png" }),
        Message.image({ data: gif, mediaType: "image/gif" }),
        Message.image({ url: "https://example.com/a.jpg" }),
        Message.pdf({ data: pdf }, { title: "Report" }),
        Message.pdf({ url: "http://example.com/r.pdf" }),
        {
          type: "document",
          source: { type: "text", media_type: "text/plain", data: "plain" },
          citations: { enabled: true }
        },
        { type: "image", source: { type: "file", file_id: "file_011" }, cache_control: { type: "ephemeral" } }
      ]
      assert.deepStrictEqual(yield* Message.decodeContent(blocks), blocks as never)
      const history = [Message.user(blocks as ReadonlyArray<Message.ContentBlock>)]
      assert.deepStrictEqual(yield* Message.decodeHistory(Message.encodeHistory(history)), history)
    })
  )

  it.effect("a media type the API does not take is refused", () =>
    Effect.gen(function* () {
      const message = yield* problem({ type: "image", source: { type: "base64", media_type: "image/bmp", data: png } })
      assert.include(message, '"image/jpeg" | "image/png" | "image/gif" | "image/webp"')
      assert.include(message, '["media_type"]')
    })
  )

  it.effect("data that is not base64 is refused, saying what base64 is expected", () =>
    Effect.gen(function* () {
      for (const data of ["abc", `data:image/png;base64,${png}`, `${png.slice(0, 40)}\n${png.slice(40)}`, "a b="]) {
        const message = yield* problem({ type: "image", source: { type: "base64", media_type: "image/png", data } })
        assert.include(message, "not base64", data)
      }
      assert.include(yield* problem(Message.pdf({ data: "" })), "empty")
    })
  )

  it.effect("base64 data of another format than its media type is refused, naming the format it is", () =>
    Effect.gen(function* () {
      const message = yield* problem(Message.image({ data: png, mediaType: "image/jpeg" }))
      assert.include(message, "not image/jpeg (it looks like image/png)")
      assert.include(yield* problem(Message.pdf({ data: png })), "not application/pdf")
    })
  )

  it.effect("a URL that is not an absolute http(s) URL is refused", () =>
    Effect.gen(function* () {
      assert.include(yield* problem(Message.image({ url: "ftp://example.com/a.png" })), "http(s)")
      assert.include(yield* problem(Message.pdf({ url: "report.pdf" })), "not an absolute URL")
    })
  )

  it.effect("an image block without a source is refused, not kept as an opaque block", () =>
    Effect.gen(function* () {
      assert.isDefined(yield* problem({ type: "image" }))
      assert.isDefined(
        yield* problem({ type: "document", source: { type: "base64", media_type: "image/png", data: png } })
      )
    })
  )
})
