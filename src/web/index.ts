/**
 * data-harness/web: the analyst page served beside the HTTP server.
 * @since 0.2.0
 */
export * as Web from "./Web.js"
