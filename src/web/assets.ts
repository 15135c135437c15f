/**
 * The page's files, read once when the routes are built and served from memory: the page itself
 * (`static/`, plain ES modules, no build step) and the Vega and Vega-Lite browser builds from their
 * npm packages. Each is kept gzipped too, and answers with an `ETag` so a reload costs a 304.
 * @internal
 */
import { createHash } from "node:crypto"
import * as Fs from "node:fs"
import { createRequire } from "node:module"
import * as Path from "node:path"
import { fileURLToPath } from "node:url"
import { gzipSync } from "node:zlib"
import { type HttpServerRequest, HttpServerResponse } from "effect/http"

/** One file to serve. */
export interface Asset {
  readonly body: Uint8Array
  readonly gzip: Uint8Array
  readonly contentType: string
  readonly etag: string
}

const contentTypes: Readonly<Record<string, string>> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".svg": "image/svg+xml",
  ".png": "image/png",
  ".csv": "text/csv; charset=utf-8",
  ".tsv": "text/tab-separated-values; charset=utf-8",
  ".json": "application/json",
  ".jsonl": "application/x-ndjson",
  ".parquet": "application/vnd.apache.parquet"
}

/**
 * The content type of a file, by its extension.
 * @internal
 */
export const contentTypeOf = (file: string): string =>
  contentTypes[Path.extname(file).toLowerCase()] ?? "application/octet-stream"

const asset = (file: string): Asset => {
  const body = Fs.readFileSync(file)
  return {
    body,
    gzip: gzipSync(body),
    contentType: contentTypeOf(file),
    etag: `"${createHash("sha256").update(body).digest("base64url").slice(0, 22)}"`
  }
}

/** Where the page's files are: next to this module (in `src/`, or in `dist/` where the build copies them). */
const staticDir = fileURLToPath(new URL("./static/", import.meta.url))

/** The files of `static/` a browser loads (not its tsconfig, nor `types.js`, which holds only types). */
const served = (name: string) => /\.(html|js|css|svg|png)$/.test(name) && name !== "types.js"

/** The directory of a package's `build/`, found through a file its `exports` map lists. */
const buildDir = (exported: string) => Path.dirname(createRequire(import.meta.url).resolve(exported))

/**
 * Every file of the page by the path it is served at: `/` for `index.html`, `/web/<file>` for the
 * rest of `static/`, `/web/vendor/<file>` for Vega and Vega-Lite. Throws (with what is missing)
 * when a file cannot be read.
 * @internal
 */
export const loadAssets = (): ReadonlyMap<string, Asset> => {
  const assets = new Map<string, Asset>()
  if (!Fs.existsSync(staticDir)) {
    throw new Error(
      `The web page's files are missing (${staticDir}); a build copies src/web/static there (npm run build).`
    )
  }
  for (const name of Fs.readdirSync(staticDir).filter(served)) {
    assets.set(name === "index.html" ? "/" : `/web/${name}`, asset(Path.join(staticDir, name)))
  }
  assets.set("/web/vendor/vega.min.js", asset(Path.join(buildDir("vega/vega-schema.json"), "vega.min.js")))
  assets.set(
    "/web/vendor/vega-lite.min.js",
    asset(Path.join(buildDir("vega-lite/vega-lite-schema.json"), "vega-lite.min.js"))
  )
  return assets
}

/**
 * Headers of the page itself: what it may load and run (its own files; `unsafe-eval` because Vega
 * compiles its expressions), and that it may not be framed.
 * @internal
 */
export const pageHeaders = {
  "content-security-policy":
    "default-src 'self'; script-src 'self' 'unsafe-eval'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; " +
    "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
  "x-content-type-options": "nosniff",
  "referrer-policy": "no-referrer"
} as const

/**
 * The response for an asset: 304 when the browser has it, gzipped when it takes gzip.
 * @internal
 */
export const respond = (
  file: Asset,
  request: HttpServerRequest.HttpServerRequest,
  headers: Readonly<Record<string, string>> = {}
): HttpServerResponse.HttpServerResponse => {
  const common = { etag: file.etag, "cache-control": "no-cache", vary: "accept-encoding", ...headers }
  if (request.headers["if-none-match"] === file.etag) return HttpServerResponse.empty({ status: 304, headers: common })
  const gzip = /\bgzip\b/.test(request.headers["accept-encoding"] ?? "")
  return HttpServerResponse.uint8Array(gzip ? file.gzip : file.body, {
    contentType: file.contentType,
    headers: gzip ? { ...common, "content-encoding": "gzip" } : common
  })
}
