/**
 * The whole HTTP API of the server, as one effect `HttpApi`: the session endpoints
 * (`SessionApi`) and the Anthropic-compatible `POST /v1/messages` (`MessagesApi`). The server
 * serves its OpenAPI document at `/openapi.json`.
 *
 * @example
 * ```ts
 * import { HttpApiClient } from "effect/http-api"
 * import { ServerApi } from "data-harness/server"
 * const client = HttpApiClient.make(ServerApi.Api, { baseUrl: "http://127.0.0.1:8787" })
 * ```
 * @since 0.2.0
 */
import { HttpApi } from "effect/http-api"
import { Messages } from "./MessagesApi.js"
import { Sessions } from "./SessionApi.js"

/**
 * The server's API.
 * @since 0.2.0
 */
export class Api extends HttpApi.make("data-harness").add(Sessions).add(Messages) {}
