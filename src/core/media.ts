/**
 * Image and document blocks of a message, their sources and their checks: base64 data that is
 * really the declared format, http(s) URLs, uploaded files. Re-exported by `Message` (users write
 * `Message.image`, `Message.ImageBlock`); kept apart to keep `Message.ts` to the blocks and the
 * conversation.
 *
 * @internal Reached through `Message`.
 * @since 0.2.0
 */
import { Schema } from "effect"
import { withRest } from "./withRest.js"

/**
 * The image formats the API takes.
 * @since 0.2.0
 */
export const ImageMediaType = Schema.Literals(["image/jpeg", "image/png", "image/gif", "image/webp"])
/** @since 0.2.0 */
export type ImageMediaType = typeof ImageMediaType.Type

/** The first base64 characters of each format's file signature. */
const signatures: Readonly<Record<string, ReadonlyArray<string>>> = {
  "image/jpeg": ["/9j/"],
  "image/png": ["iVBORw0KGgo"],
  "image/gif": ["R0lGODdh", "R0lGODlh"],
  "image/webp": ["UklGR"],
  "application/pdf": ["JVBER"]
}

const base64Shape = /^[A-Za-z0-9+/]*={0,2}$/

/** Base64 data: the standard alphabet, padded to a multiple of 4 characters, not empty. */
const Base64Data = Schema.String.check(
  Schema.makeFilter((data: string) =>
    data.length === 0
      ? "the base64 data is empty"
      : data.length % 4 !== 0 || !base64Shape.test(data)
        ? "the data is not base64 (standard alphabet A-Z a-z 0-9 + /, padded with = to a multiple of 4 characters; no data: URL prefix, no line breaks)"
        : undefined
  )
)

/** The data starts with the signature of its declared media type (the API refuses a mismatch). */
const matchesMediaType = Schema.makeFilter((source: { readonly media_type: string; readonly data: string }) => {
  const expected = signatures[source.media_type]
  if (expected === undefined || expected.some((prefix) => source.data.startsWith(prefix))) return undefined
  const actual = Object.entries(signatures).find(([, prefixes]) => prefixes.some((p) => source.data.startsWith(p)))
  return `the data is not ${source.media_type}${actual === undefined ? "" : ` (it looks like ${actual[0]})`}`
})

/** An absolute `http:` or `https:` URL. */
const HttpUrl = Schema.String.check(
  Schema.makeFilter((url: string) => {
    try {
      const protocol = new URL(url).protocol
      return protocol === "https:" || protocol === "http:" ? undefined : `the URL must be http(s), not ${protocol}`
    } catch {
      return `not an absolute URL: ${JSON.stringify(url.length > 80 ? `${url.slice(0, 80)}…` : url)}`
    }
  })
)

/**
 * An image given inline: base64 data and its media type.
 * @since 0.2.0
 */
export const Base64ImageSource = withRest({
  type: Schema.Literal("base64"),
  media_type: ImageMediaType,
  data: Base64Data
}).check(matchesMediaType)

/**
 * A source the API fetches itself: an http(s) URL.
 * @since 0.2.0
 */
export const UrlSource = withRest({ type: Schema.Literal("url"), url: HttpUrl })

/**
 * A file uploaded with the Files API.
 * @since 0.2.0
 */
export const FileSource = withRest({ type: Schema.Literal("file"), file_id: Schema.String })

/**
 * An image in a message (user content, or a tool result's content): base64 data with its media
 * type (JPEG, PNG, GIF, WebP; the data must be that format), an http(s) URL, or an uploaded file.
 * @since 0.2.0
 */
export const ImageBlock = withRest({
  type: Schema.Literal("image"),
  source: Schema.Union([Base64ImageSource, UrlSource, FileSource])
})
/** @since 0.2.0 */
export type ImageBlock = typeof ImageBlock.Type

/**
 * A PDF given inline as base64.
 * @since 0.2.0
 */
export const Base64PdfSource = withRest({
  type: Schema.Literal("base64"),
  media_type: Schema.Literal("application/pdf"),
  data: Base64Data
}).check(matchesMediaType)

/**
 * Plain text given as a document (citable like a PDF).
 * @since 0.2.0
 */
export const PlainTextSource = withRest({
  type: Schema.Literal("text"),
  media_type: Schema.Literal("text/plain"),
  data: Schema.String
})

/**
 * A document in a message: a PDF (base64 or an http(s) URL), plain text, content blocks, or an
 * uploaded file; optional `title`, `context` and `citations` are kept.
 * @since 0.2.0
 */
export const DocumentBlock = withRest({
  type: Schema.Literal("document"),
  source: Schema.Union([
    Base64PdfSource,
    UrlSource,
    PlainTextSource,
    withRest({ type: Schema.Literal("content"), content: Schema.Union([Schema.String, Schema.Array(Schema.Unknown)]) }),
    FileSource
  ])
})
/** @since 0.2.0 */
export type DocumentBlock = typeof DocumentBlock.Type

// constructors

/**
 * An image block: base64 `data` with its `mediaType`, or a `url` the API fetches. Not checked
 * here; a message is checked when it is decoded (`Message.decodeContent`, or an ask).
 *
 * @example
 * ```ts
 * import { Message } from "data-harness"
 * const ask = Message.user([Message.text("What is in this chart?"), Message.image({ url: "https://example.com/c.png" })])
 * ```
 * @since 0.2.0
 */
export const image = (
  source: { readonly data: string; readonly mediaType: ImageMediaType } | { readonly url: string }
): ImageBlock => ({
  type: "image",
  source:
    "url" in source
      ? { type: "url", url: source.url }
      : { type: "base64", media_type: source.mediaType, data: source.data }
})

/**
 * A PDF document block: base64 `data`, or a `url` the API fetches; an optional `title`.
 *
 * @example
 * ```ts
 * import { Message } from "data-harness"
 * const ask = Message.user([Message.pdf({ url: "https://example.com/report.pdf" }), Message.text("Summarise it.")])
 * ```
 * @since 0.2.0
 */
export const pdf = (
  source: { readonly data: string } | { readonly url: string },
  options?: { readonly title?: string | undefined }
): DocumentBlock => {
  const block: { -readonly [K in keyof DocumentBlock]: DocumentBlock[K] } = {
    type: "document",
    source:
      "url" in source
        ? { type: "url", url: source.url }
        : { type: "base64", media_type: "application/pdf", data: source.data }
  }
  if (options?.title !== undefined) block.title = options.title
  return block
}
