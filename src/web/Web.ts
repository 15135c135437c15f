/**
 * The analyst page: a web page served beside the session API, where a person signs in with a
 * token, uploads (or picks) a dataset, asks questions and watches the answer stream in — text,
 * SQL and JavaScript calls as they are written, their results as tables, the session's handles
 * with their snapshots, and charts drawn by the `chart` tool.
 *
 * `Web.routes(options)` is a route layer for `Server.layer({ routes })`. It serves:
 *
 * | method | path | what |
 * | --- | --- | --- |
 * | GET | `/` | the page (plain ES modules, no build step; Vega and Vega-Lite from their packages) |
 * | GET | `/web/*` | its scripts, styles and `/web/vendor/vega*.min.js` |
 * | POST | `/web/login` | `{"token"}`: checks it and sets it as the `dh_token` cookie (`HttpOnly`, `SameSite=Strict`) |
 * | POST | `/web/logout` | expires the cookie |
 * | GET | `/web/api/me` | the tenant, the server's provider and model, the sample datasets |
 * | GET | `/web/api/samples/{name}` | a sample dataset's file, for the page to upload to a session |
 * | GET | `/web/api/sessions/{id}/charts/{name}` | a chart the `chart` tool kept as handle `name`: its Vega-Lite spec with data |
 *
 * Everything else the page does goes through the session API with the cookie: it creates a
 * session, uploads with `PUT .../data/{name}`, asks with `POST .../asks` and reads the events
 * with `fetch` (so a dropped connection resumes with `Last-Event-ID` on `GET .../events`),
 * interrupts, and rebuilds the conversation from `GET .../history` after a reload.
 *
 * @example
 * ```ts
 * import { Effect, Layer } from "effect"
 * import { Anthropic, Chart, DataTools } from "data-harness"
 * import { Server } from "data-harness/server"
 * import { Web } from "data-harness/web"
 *
 * const tokens = [{ tenant: "me", token: process.env.MY_TOKEN! }]
 * const server = Server.layer({
 *   tokens,
 *   agent: { dataTools: [...DataTools.all, Chart.chart] },
 *   routes: Web.routes({ tokens, samples: [{ name: "sales", path: "data/sales.csv" }] })
 * }).pipe(Layer.provide(Anthropic.layerConfig()))
 * Layer.launch(server).pipe(Effect.runFork) // open http://127.0.0.1:8787/ and sign in with MY_TOKEN
 * ```
 * @since 0.2.0
 */
import * as Fs from "node:fs/promises"
import * as Path from "node:path"
import { Effect, Layer, Redacted, Schema } from "effect"
import { HttpRouter, HttpServerRequest, HttpServerResponse } from "effect/http"
import type { Mock } from "../index.js"
import * as Server from "../server/Server.js"
import * as ServerSessions from "../server/ServerSessions.js"
import * as Tenancy from "../server/Tenancy.js"
import * as Chart from "../tools/Chart.js"
import { contentTypeOf, loadAssets, pageHeaders, respond } from "./assets.js"
import { scriptedAnalyst as analyst } from "./scriptedAnalyst.js"

// models

/**
 * A dataset the page offers to load into a session with one click.
 * @since 0.2.0
 */
export interface Sample {
  /** The handle it becomes (a valid identifier), and how the page names it. */
  readonly name: string
  /** The file: CSV, TSV, Parquet, JSON or JSONL, by its extension. */
  readonly path: string
  readonly description?: string | undefined
}

/**
 * Options of {@link routes}.
 * @since 0.2.0
 */
export interface Options {
  /** The tokens the page accepts at sign-in: the server's own. */
  readonly tokens: Tenancy.Tokens | ReadonlyArray<Tenancy.TokenGrant>
  /** Datasets to offer (default none). */
  readonly samples?: ReadonlyArray<Sample> | undefined
}

/**
 * One turn of a scripted analyst that works the session's real data without a model API: it
 * lists the handles, totals the first table's first numeric column by its first text column with
 * `sql` (saving the result), charts that with `chart`, and answers from the query's rows. For
 * trying the page offline (what `npm run serve` runs without an API key), and for tests.
 *
 * @example
 * ```ts
 * import { Mock } from "data-harness"
 * import { Web } from "data-harness/web"
 * const offline = Mock.layer({ turns: [Web.scriptedAnalyst], chunkSize: 6, eventDelay: "15 millis" })
 * ```
 * @since 0.2.0
 */
export const scriptedAnalyst: (context: Mock.TurnContext) => Mock.Script = analyst

// routes

const json = (status: number, body: unknown) =>
  HttpServerResponse.jsonUnsafe(body, { status, headers: { "cache-control": "no-store" } })

const COOKIE = "dh_token"

/** Sign-in: a token the server knows becomes the `dh_token` cookie the API and these routes accept. */
const signIn = (tokens: Tenancy.Tokens) =>
  HttpRouter.add(
    "POST",
    "/web/login",
    Effect.gen(function* () {
      const body = yield* HttpServerRequest.schemaBodyJson(Schema.Struct({ token: Schema.String })).pipe(Effect.option)
      if (body._tag === "None") {
        return json(400, { _tag: "BadRequest", field: "payload.token", message: 'Send {"token": "<your token>"}.' })
      }
      const token = body.value.token.trim()
      if (tokens.lookup(Redacted.make(token)) === undefined) {
        return json(401, {
          _tag: "Unauthorized",
          message: "That token is not one the server is configured with. Check it and sign in again."
        })
      }
      return yield* HttpServerResponse.setCookie(HttpServerResponse.empty({ status: 204 }), COOKIE, token, {
        httpOnly: true,
        sameSite: "strict",
        path: "/"
      }).pipe(
        Effect.catch(() =>
          Effect.succeed(
            json(400, {
              _tag: "BadRequest",
              field: "payload.token",
              message: "This token cannot be kept in a cookie; use the API with `Authorization: Bearer` instead."
            })
          )
        )
      )
    })
  )

const signOut = HttpRouter.add(
  "POST",
  "/web/logout",
  HttpServerResponse.expireCookieUnsafe(HttpServerResponse.empty({ status: 204 }), COOKIE, { path: "/" })
)

/** The page's assets, by path. */
const assetRoutes = HttpRouter.addAll(
  Effect.sync(() =>
    [...loadAssets()].map(([path, file]) =>
      HttpRouter.route(
        "GET",
        path as HttpRouter.PathInput,
        Effect.map(HttpServerRequest.HttpServerRequest, (request) =>
          respond(file, request, path === "/" ? pageHeaders : { "x-content-type-options": "nosniff" })
        )
      )
    )
  ).pipe(Effect.orDie)
)

/** What the page asks first: who it is, which model answers, which samples there are. */
const me = (samples: ReadonlyArray<Sample>) =>
  HttpRouter.add(
    "GET",
    "/web/api/me",
    Effect.gen(function* () {
      const tenant = yield* Tenancy.Tenant
      const sessions = yield* ServerSessions.ServerSessions
      return json(200, {
        tenant: tenant.id,
        provider: sessions.provider.name,
        model: sessions.provider.model,
        samples: samples.map((s) => ({
          name: s.name,
          file: Path.basename(s.path),
          ...(s.description === undefined ? {} : { description: s.description })
        }))
      })
    })
  )

const sampleFile = (samples: ReadonlyArray<Sample>) =>
  HttpRouter.add(
    "GET",
    "/web/api/samples/:name",
    Effect.gen(function* () {
      const { name } = yield* HttpRouter.params
      const sample = samples.find((s) => s.name === name)
      if (sample === undefined) {
        return json(404, { _tag: "NotFound", message: `No sample "${name}"; GET /web/api/me lists them.` })
      }
      return yield* Effect.tryPromise(() => Fs.readFile(sample.path)).pipe(
        Effect.map((bytes) =>
          HttpServerResponse.uint8Array(bytes, {
            contentType: contentTypeOf(sample.path),
            headers: { "cache-control": "no-store" }
          })
        ),
        Effect.catch(() =>
          Effect.succeed(json(404, { _tag: "NotFound", message: `The sample "${name}" cannot be read.` }))
        )
      )
    })
  )

/** A chart the `chart` tool kept: only a handle that decodes as one (nothing beyond the subset). */
const chartSpec = HttpRouter.add(
  "GET",
  "/web/api/sessions/:id/charts/:name",
  Effect.gen(function* () {
    const { id, name } = yield* HttpRouter.params
    const tenant = yield* Tenancy.Tenant
    const sessions = yield* ServerSessions.ServerSessions
    return yield* sessions.get(tenant.id, id ?? "").pipe(
      Effect.flatMap((held) => held.session.data.get(name ?? "")),
      Effect.map((handle) => {
        const chart = handle === undefined ? undefined : Chart.fromHandle(handle)
        return chart === undefined
          ? json(404, { _tag: "ChartNotFound", message: `Session ${id} has no chart "${name}".` })
          : json(200, chart)
      }),
      Effect.catchTag("SessionNotFound", (error) => Effect.succeed(json(404, error)))
    )
  })
)

/**
 * The page and its routes, for `Server.layer({ routes })` (or `Layer.mergeAll` with
 * `Server.routes(...)`). The page and its files are public; its data routes take the same tokens
 * (bearer, `x-api-key` or the `dh_token` cookie) as the API.
 * @since 0.2.0
 */
export const routes = (options: Options): Layer.Layer<never, never, Server.ExtraRoutesContext> => {
  const tokens = "lookup" in options.tokens ? options.tokens : Tenancy.tokens(options.tokens)
  const samples = options.samples ?? []
  const authenticated = Layer.mergeAll(me(samples), sampleFile(samples), chartSpec).pipe(
    Layer.provide(Server.authenticate(tokens).layer)
  )
  return Layer.mergeAll(assetRoutes, signIn(tokens), signOut, authenticated)
}
