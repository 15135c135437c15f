/**
 * The control of one tool call in an ask: its gate (the `beforeTool` hooks, then the tool's own
 * approval mark), its wait for approval, and its run (the budgets first, a compute tool bounded by
 * the compute time left and its time counted, then the `afterTool` hooks). `AskControl` calls
 * these with what they need of it ({@link ToolCallControl}).
 *
 * @internal
 */
import { Effect, Option } from "effect"
import type { BudgetExceeded, HarnessError, HookFailed, HookPoint, RunStopped } from "../core/HarnessError.js"
import type * as Message from "../core/Message.js"
import type * as Tool from "../tools/Tool.js"
import * as Approval from "./Approval.js"
import type { AskEnv } from "./askEnv.js"
import type * as Hooks from "./Hooks.js"
import { computeLeft, type Over, overBeforeTool, type Scoped } from "./meter.js"

/**
 * What happens to a tool call: it runs (with this input), is denied (the model reads `message`),
 * or waits for approval first.
 * @internal
 */
export type Gate =
  | { readonly _tag: "Run"; readonly input: unknown }
  | { readonly _tag: "Deny"; readonly message: string }
  | { readonly _tag: "Approval"; readonly input: unknown; readonly reason: string | undefined }

/**
 * What a tool call's control needs of the ask's: its env, its budget scopes and live time, and
 * how it makes a `BudgetExceeded`, runs a hook and builds a hook's context.
 * @internal
 */
export interface ToolCallControl {
  readonly env: AskEnv
  readonly scopes: ReadonlyArray<Scoped>
  readonly live: () => number
  readonly exceeded: (over: Over, what: string) => BudgetExceeded
  readonly hook: <A>(
    point: HookPoint,
    tool: string | undefined,
    run: Effect.Effect<A, unknown, unknown>
  ) => Effect.Effect<A, HookFailed | RunStopped>
  readonly context: () => Hooks.HookContext
}

const marks = new WeakMap<ReadonlyArray<Tool.Any>, boolean>()

/** Whether any of the tools is marked for approval (once per tool list). */
export const anyMarked = (tools: ReadonlyArray<Tool.Any>): boolean => {
  let marked = marks.get(tools)
  if (marked === undefined) {
    marked = tools.some((tool) => Approval.requirement(tool) !== undefined)
    marks.set(tools, marked)
  }
  return marked
}

/** Before a tool call: the hooks, then the tool's own approval mark. */
export const gate = (control: ToolCallControl, use: Message.ToolUseBlock): Effect.Effect<Gate, HarnessError> => {
  const hook = control.env.hooks?.beforeTool
  const marked = control.env.tool(use.name)
  const requirement = marked === undefined ? undefined : Approval.requirement(marked)
  const byMark = (input: unknown): Gate =>
    requirement !== undefined && (requirement.when === undefined || requirement.when(input))
      ? { _tag: "Approval", input, reason: requirement.reason }
      : { _tag: "Run", input }
  if (hook === undefined) return Effect.succeed(byMark(use.input))
  const decided = hook({ ...control.context(), toolUseId: use.id, name: use.name, input: use.input })
  return Effect.map(control.hook("beforeTool", use.name, decided), (decision): Gate => {
    switch (decision?._tag) {
      case "Deny":
        return { _tag: "Deny", message: decision.message }
      case "ReplaceInput":
        return byMark(decision.input)
      case "RequireApproval":
        return {
          _tag: "Approval",
          input: decision.input ?? use.input,
          reason: decision.reason ?? requirement?.reason
        }
      default:
        return byMark(use.input)
    }
  })
}

/**
 * Runs a tool call: the budgets first, then `call(input)` (a compute tool bounded by the compute
 * time left, its time counted), then the `afterTool` hooks.
 */
export const runTool = (
  control: ToolCallControl,
  use: Message.ToolUseBlock,
  input: unknown,
  call: (input: unknown) => Effect.Effect<Tool.Outcome>
): Effect.Effect<Tool.Outcome, HarnessError> =>
  Effect.suspend(() => {
    const compute = control.env.agent.budget.compute.has(use.name)
    const over = overBeforeTool(control.scopes, compute, control.live())
    if (over !== undefined) return Effect.fail(control.exceeded(over, `tool call (${use.name})`))
    const start = control.env.now()
    const measured = measuredCall(control, use, input, call, compute, start)
    const hook = control.env.hooks?.afterTool
    if (hook === undefined) return measured
    return Effect.flatMap(measured, (result) => {
      const context: Hooks.AfterTool = {
        ...control.context(),
        toolUseId: use.id,
        name: use.name,
        input,
        result,
        durationMs: control.env.now() - start
      }
      return Effect.map(control.hook("afterTool", use.name, hook(context)), (decision) =>
        decision?._tag === "ReplaceResult" ? decision.result : result
      )
    })
  })

/**
 * `call(input)` (the tool call, started at `start`), a compute tool's bounded by the compute time
 * left and its time counted in every scope's meter; running out of that time is `BudgetExceeded`.
 */
const measuredCall = (
  control: ToolCallControl,
  use: Message.ToolUseBlock,
  input: unknown,
  call: (input: unknown) => Effect.Effect<Tool.Outcome>,
  compute: boolean,
  start: number
): Effect.Effect<Tool.Outcome, HarnessError> => {
  const left = compute ? computeLeft(control.scopes) : undefined
  const bounded =
    left === undefined ? Effect.map(call(input), Option.some) : Effect.timeoutOption(call(input), Math.max(0, left.ms))
  // the time is counted first, so that a BudgetExceeded for it says what was spent
  const counted = Effect.onExit(bounded, () =>
    Effect.sync(() => {
      if (!compute) return
      const elapsed = control.env.now() - start
      for (const { meter } of control.scopes) meter.toolCpuMs += elapsed
    })
  )
  return Effect.flatMap(counted, (outcome): Effect.Effect<Tool.Outcome, HarnessError> => {
    if (Option.isSome(outcome)) return Effect.succeed(outcome.value)
    const { scoped } = left!
    const over: Over = {
      scope: scoped.scope,
      limit: "toolCpuMs",
      allowed: scoped.limits.toolCpuMs!,
      spent: scoped.meter.spent(control.live())
    }
    return Effect.fail(control.exceeded(over, `${use.name} call to finish (it was stopped)`))
  })
}
