/**
 * The handler of `POST /v1/messages`.
 * @internal
 */
import { Layer } from "effect"
import type { Tokens } from "./Tenancy.js"

/** @internal */
export const messagesHandlers = (_options: { readonly tokens: Tokens }) => Layer.empty
