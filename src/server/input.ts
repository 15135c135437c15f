/**
 * Request decoding failures as the fields they name.
 * @internal
 */
import { SchemaIssue } from "effect"
import type { HttpApiError } from "effect/http-api"
import type { Issue } from "./ApiError.js"

const formatIssues = SchemaIssue.makeFormatterStandardSchemaV1()

const slotNames: Record<HttpApiError.HttpApiSchemaError["kind"], string> = {
  Params: "params",
  Headers: "headers",
  Query: "query",
  Payload: "payload",
  Body: "body",
  ResponseHeaders: "responseHeaders"
}

const segment = (part: PropertyKey | { readonly key: PropertyKey }): string => {
  const key = typeof part === "object" ? part.key : part
  return String(key)
}

/**
 * Each problem of a decoding failure with the dotted path of the field at fault, prefixed by
 * the part of the request it is in (`payload.prompt`, `headers.last-event-id`, `query.after`).
 * @internal
 */
export const issuesOf = (error: HttpApiError.HttpApiSchemaError): ReadonlyArray<Issue> => {
  const slot = slotNames[error.kind]
  const issues = formatIssues(error.cause.issue).issues.map((issue) => ({
    field: [slot, ...(issue.path ?? []).map(segment)].join("."),
    message: issue.message
  }))
  return issues.length > 0 ? issues : [{ field: slot, message: error.cause.message }]
}

/**
 * One line that says every problem: `payload.prompt: Missing key; query.after: ...`.
 * @internal
 */
export const describeIssues = (issues: ReadonlyArray<Issue>): string =>
  issues.map((issue) => `${issue.field}: ${issue.message}`).join("; ")
