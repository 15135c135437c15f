/**
 * What an ask's control reads of the agent loop: the agent's and session's control, the ask's
 * state and clocks. The loop builds one per ask and hands it to `AskControl`.
 *
 * @internal
 */
import type { Context, Effect, Ref } from "effect"
import type { Partial } from "../core/HarnessError.js"
import type * as Message from "../core/Message.js"
import type { StoreError } from "../core/StoreError.js"
import type * as Usage from "../core/Usage.js"
import type * as Data from "../data/Data.js"
import type * as Provider from "../provider/Provider.js"
import type * as Tool from "../tools/Tool.js"
import type { AgentControl, SessionControl } from "./control.js"
import type * as Hooks from "./Hooks.js"
import type { Resolved } from "./limits.js"

/**
 * What the ask's control reads of the loop.
 * @internal
 */
export interface AskEnv {
  readonly agent: AgentControl
  readonly session: SessionControl
  readonly provider: Provider.Service
  // biome-ignore lint/suspicious/noExplicitAny: the captured services of the hooks
  readonly context: Context.Context<any>
  /** The agent's hooks, then the ask's. */
  readonly hooks: Hooks.Any | undefined
  /** The ask's own limits, else the agent's default for asks. */
  readonly limits: Resolved | undefined
  readonly history: Ref.Ref<Message.History>
  /** Replaces the history with a compacted one (with a session store, committed to it). */
  readonly replace: (history: Message.History) => Effect.Effect<void, StoreError>
  readonly data: () => Data.Store
  readonly turn: () => number
  readonly usage: () => Usage.Usage
  /** Adds usage the ask spent outside its model turns (a compaction's summary) to the ask's. */
  readonly addUsage: (usage: Usage.Usage) => void
  /** The ask's output so far, for errors. */
  readonly partial: () => Partial
  /** Monotonic milliseconds. */
  readonly now: () => number
  /** Wall-clock milliseconds (for records). */
  readonly wallNow: () => number
  /** The agent's tools. */
  readonly tools: ReadonlyArray<Tool.Any>
  readonly tool: (name: string) => Tool.Any | undefined
}
