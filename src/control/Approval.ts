/**
 * Tool approval: a tool call that waits for a person (or a program) to approve or deny it.
 *
 * Mark a tool with {@link require} (or approve by a rule with {@link hook}, or return
 * `Hooks.requireApproval()` from any `beforeTool` hook). When the model calls it, the ask emits an
 * `approval_request` event (`tool_use_id`, `tool_name`, `input`, `reason`) and waits:
 *
 * - `session.approve(id)` runs the call (optionally with an edited `input`) and the ask goes on;
 * - `session.deny(id, reason)` does not run it: the model reads `reason` as the call's error
 *   result, and the ask goes on;
 * - interrupting the ask while it waits ends it like any interruption: the call is answered
 *   with a synthetic error result, so the history stays valid and the next ask works (with a
 *   session store the call keeps waiting instead; see below).
 *
 * `session.approvals` lists the calls waiting, each a {@link Pending}: a plain value (Schema) that
 * can be stored and shown. While a call waits the ask's time limits keep running (`timeouts.run`,
 * a `wallTime` budget).
 *
 * With a session store the pause is durable: the waiting call is committed before its
 * `approval_request` goes out, and an ask that ends while it waits (interrupted, its consumer
 * gone, its process stopped) leaves it waiting. A session loaded later lists it, `approve`/`deny`
 * decide it with no ask running (the decision is committed too), and `session.resume` continues
 * the ask: it announces the call again (unless decided), runs or denies it, and goes on to the
 * model's next turn. A new ask
 * answers it as not run instead. An ask that fails while a call waits answers it, as without a
 * store.
 *
 * @example
 * ```ts
 * import { Effect, Stream } from "effect"
 * import { Agent, Approval, Sql } from "data-harness"
 *
 * const agent = yield* Agent.make({ dataTools: [Approval.require(Sql.sql, { reason: "SQL reads customer data" })] })
 * const session = yield* agent.session()
 * yield* session.askStream("How many customers churned?").pipe(
 *   Stream.tap((event) =>
 *     event.type === "approval_request" ? session.approve(event.tool_use_id) : Effect.void
 *   ),
 *   Stream.runDrain
 * )
 * ```
 * @since 0.2.0
 */
import { Effect, Schema } from "effect"
import type * as Tool from "../tools/Tool.js"
import * as Hooks from "./Hooks.js"

// the pause as a value

/**
 * A tool call waiting for approval: which call (`toolUseId`), of which tool, with what input,
 * why, and since when (epoch milliseconds).
 * @since 0.2.0
 */
export class Pending extends Schema.Class<Pending>("data-harness/PendingApproval")({
  toolUseId: Schema.String,
  tool: Schema.String,
  input: Schema.Unknown,
  reason: Schema.optionalKey(Schema.String),
  requestedAt: Schema.Number
}) {}

/**
 * What was decided about a pending call: run it (with `input` when the approver changed it), or
 * not (the model reads `reason`).
 * @since 0.2.0
 */
export type Decision =
  | { readonly _tag: "Approved"; readonly input?: unknown }
  | { readonly _tag: "Denied"; readonly reason: string }

/**
 * Applies `decision` to the waiting call `toolUseId` of `session`: its `approve` (with the edited
 * input, when the decision has one) or its `deny`. For front ends that receive decisions as values
 * (the HTTP server, a cluster runner).
 * @since 0.2.0
 */
export const decide = <E>(
  session: {
    readonly approve: (toolUseId: string, options?: { readonly input?: unknown }) => Effect.Effect<void, E>
    readonly deny: (toolUseId: string, reason: string) => Effect.Effect<void, E>
  },
  toolUseId: string,
  decision: Decision
): Effect.Effect<void, E> =>
  decision._tag === "Approved"
    ? session.approve(toolUseId, "input" in decision ? { input: decision.input } : undefined)
    : session.deny(toolUseId, decision.reason)

/**
 * `session.approve` or `session.deny` named a call that is not waiting (never was, or was decided
 * or ended already).
 * @since 0.2.0
 */
export class ApprovalNotPending extends Schema.TaggedError<ApprovalNotPending>()("ApprovalNotPending", {
  toolUseId: Schema.String,
  message: Schema.String
}) {
  /** Never retryable: no call waits under that id. */
  get isRetryable(): boolean {
    return false
  }
}

// marking tools

/**
 * How a tool marked with {@link require} asks: `reason` is shown in the request, and `when`
 * decides per call (default: every call).
 * @since 0.2.0
 */
export interface RequireOptions {
  readonly reason?: string | undefined
  readonly when?: ((input: unknown) => boolean) | undefined
}

const marked = new WeakMap<object, RequireOptions>()

/**
 * The tool, marked so that each call (or each call `when` accepts) waits for approval. The tool
 * itself is unchanged (a copy is marked): give the marked one to `Agent.make`.
 *
 * @example
 * ```ts
 * const agent = yield* Agent.make({ tools: [Approval.require(sendEmail)] })
 * ```
 * @since 0.2.0
 */
export const require = <T extends Tool.Tool<never> | Tool.Any>(tool: T, options: RequireOptions = {}): T => {
  const copy = { ...tool }
  marked.set(copy, options)
  return copy
}

/**
 * How the tool was marked by {@link require}, or `undefined`.
 * @since 0.2.0
 */
export const requirement = (tool: Tool.Any): RequireOptions | undefined => marked.get(tool)

/**
 * Hooks that ask for approval of the calls `rule` picks: tool names, or a predicate over the call
 * (return a string to give the reason).
 *
 * @example
 * ```ts
 * Agent.make({ hooks: [Approval.hook(["javascript"])] })
 * Agent.make({ hooks: [Approval.hook((call) => call.name === "sql" && JSON.stringify(call.input).includes("salary"))] })
 * ```
 * @since 0.2.0
 */
export const hook = (
  rule: ReadonlyArray<string> | ((call: Hooks.BeforeTool) => boolean | string),
  options?: { readonly reason?: string | undefined }
): Hooks.Hooks => {
  const names = typeof rule === "function" ? undefined : new Set(rule)
  return {
    beforeTool: (call) =>
      Effect.sync(() => {
        const picked =
          names === undefined ? (rule as (call: Hooks.BeforeTool) => boolean | string)(call) : names.has(call.name)
        if (picked === false) return undefined
        return Hooks.requireApproval(typeof picked === "string" ? picked : options?.reason)
      })
  }
}
