/**
 * Sessions in a session store as `agent.session(options)` finds them: resumed by id, created
 * (with a given id, metadata, and a saved history committed as its first steps), or resumed
 * when it exists and created when it does not.
 *
 * @internal
 */
import { Effect, type Schema } from "effect"
import type * as Message from "../core/Message.js"
import { StoreError } from "../core/StoreError.js"
import * as Usage from "../core/Usage.js"
import type * as SessionStore from "../store/SessionStore.js"
import type { Step } from "../store/Step.js"
import { repairHistory } from "./history.js"

/**
 * What `agent.session` takes about the store: which session, and how to find it.
 * @internal
 */
export interface Find {
  readonly id?: string | undefined
  readonly tenant?: string | undefined
  readonly create?: boolean | "ifMissing" | undefined
  readonly metadata?: Schema.JsonObject | undefined
  readonly history?: Message.History | undefined
}

const invalid = (message: string) => new StoreError({ reason: "InvalidInput", message })

/**
 * A saved history as the steps that commit it: user blocks, tool results (first in their
 * message), assistant turns (with no usage: it is not known).
 * @internal
 */
export const historySteps = (history: Message.History): Array<Step> => {
  const steps: Array<Step> = []
  for (const message of repairHistory(history)) {
    if (message.role === "assistant") {
      steps.push({ _tag: "Turn", content: message.content, usage: Usage.empty })
      continue
    }
    const results = message.content.filter((block): block is Message.ToolResultBlock => block.type === "tool_result")
    const rest = message.content.filter((block) => block.type !== "tool_result")
    if (results.length > 0) steps.push({ _tag: "ToolResults", content: results })
    if (rest.length > 0) steps.push({ _tag: "User", content: rest })
  }
  return steps
}

/** Creates the session (with its history committed), loaded. */
const create = (store: SessionStore.Service, tenant: string, find: Find) =>
  Effect.gen(function* () {
    const created = yield* store.create(tenant, {
      ...(find.id !== undefined ? { id: find.id } : {}),
      ...(find.metadata !== undefined ? { metadata: find.metadata } : {})
    })
    const steps = find.history === undefined ? [] : historySteps(find.history)
    if (steps.length === 0) return created
    yield* store.commit({ tenant, id: created.id }, steps, { expectedSeq: 0 })
    return yield* store.load({ tenant, id: created.id })
  })

/**
 * The stored session `find` names: loaded (`id`), created (no `id`, or `create: true`), or
 * either (`create: "ifMissing"`).
 * @internal
 */
export const findSession = (
  store: SessionStore.Service,
  tenant: string,
  find: Find
): Effect.Effect<SessionStore.StoredSession, StoreError> => {
  if (find.id === undefined) {
    if (find.create === false) {
      return Effect.fail(invalid("Resuming a session needs its id: agent.session({ id }), or create a new one."))
    }
    return create(store, tenant, find)
  }
  if (find.create === true) return create(store, tenant, find)
  const key = { tenant, id: find.id }
  if (find.create !== "ifMissing") {
    if (find.history !== undefined) {
      return Effect.fail(
        invalid(
          `A resumed session (${find.id}) has its own history: pass a history only to a new session ` +
            "(agent.session({ history }) or { id, create: true })."
        )
      )
    }
    return store.load(key)
  }
  return store.load(key).pipe(
    Effect.catchTag("StoreError", (error) =>
      error.reason !== "NotFound"
        ? Effect.fail(error)
        : create(store, tenant, find).pipe(
            // created meanwhile by another caller: that one is the session
            Effect.catchTag("StoreError", (again) =>
              again.reason === "AlreadyExists" ? store.load(key) : Effect.fail(again)
            )
          )
    )
  )
}
