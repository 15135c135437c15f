/**
 * Running one tool call of the model: look the tool up among the visible ones, decode and run it
 * with the session's data and the tool's time limit, and turn whatever happens into an outcome
 * the model reads (an unknown tool, a failure or a timeout is an error result, never a crash).
 *
 * @internal
 */
import { Duration, Effect, Ref } from "effect"
import type * as Message from "../core/Message.js"
import type * as Data from "../data/Data.js"
import type * as Tool from "../tools/Tool.js"
import type { Config } from "./config.js"

/**
 * What the loop derives from an agent's tool list, made once per list (an agent's tools do not
 * change) instead of at every ask.
 * @internal
 */
export class ToolIndex {
  private static readonly byList = new WeakMap<ReadonlyArray<Tool.Any>, ToolIndex>()

  static of(tools: ReadonlyArray<Tool.Any>): ToolIndex {
    let index = ToolIndex.byList.get(tools)
    if (index === undefined) {
      index = new ToolIndex(tools)
      ToolIndex.byList.set(tools, index)
    }
    return index
  }

  readonly byName: ReadonlyMap<string, Tool.Any>
  /** The names visible before anything is revealed: one set shared by every session (never mutated). */
  readonly initiallyVisible: ReadonlySet<string>
  private constructor(tools: ReadonlyArray<Tool.Any>) {
    this.byName = new Map(tools.map((tool) => [tool.name, tool]))
    this.initiallyVisible = new Set(tools.filter((tool) => tool.visible).map((tool) => tool.name))
  }
}

/**
 * What a tool call runs with: the agent's tools, the session's visible set and data, and where
 * the `answer` goes.
 * @internal
 */
export interface ToolEnv {
  readonly config: Config
  readonly visible: Ref.Ref<ReadonlySet<string>>
  readonly data: Data.Store
  readonly setAnswer: (value: unknown, sources: ReadonlyArray<string> | undefined) => void
}

const contextOf = (env: ToolEnv, toolUseId: string, index: ToolIndex): Tool.Context => ({
  toolUseId,
  get data() {
    return env.data
  },
  reveal: (...names) =>
    Ref.update(env.visible, (visible) => {
      const next = new Set(visible)
      for (const name of names) if (index.byName.has(name)) next.add(name)
      return next
    }),
  setAnswer: (value, sources) => Effect.sync(() => env.setAnswer(value, sources))
})

/**
 * Runs the tool call `use`: what the model reads back.
 * @internal
 */
export const callTool = (env: ToolEnv, use: Message.ToolUseBlock): Effect.Effect<Tool.Outcome> => {
  const { config } = env
  const index = ToolIndex.of(config.tools)
  const visible = Ref.getUnsafe(env.visible)
  const tool = index.byName.get(use.name)
  if (tool === undefined || !visible.has(use.name)) {
    const available = config.tools.filter((t) => visible.has(t.name)).map((t) => t.name)
    return Effect.succeed({
      content: `Unknown tool "${use.name}". Available tools: ${available.join(", ") || "none"}.`,
      isError: true
    })
  }
  const call = tool.call(use.input, contextOf(env, use.id, index)).pipe(Effect.provideContext(config.context))
  // a tool's own timeout is applied by `Tool.make`; the agent's `tool` limit covers the others
  const limit = tool.timeout === undefined ? config.timeouts.tool : undefined
  if (limit === undefined) return call
  return Effect.timeoutOrElse(call, {
    duration: limit,
    orElse: () =>
      Effect.succeed<Tool.Outcome>({
        content: `Tool "${use.name}" timed out after ${Duration.format(limit)} and was stopped.`,
        isError: true
      })
  })
}
