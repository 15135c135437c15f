/**
 * One compaction of a session's history: offload large tool results into handles, then (when
 * still over, or on demand) replace the older messages by a summary; the history is written once,
 * at the end, and what was done is returned as a `Compaction.Record`.
 *
 * @internal
 */
import { Effect, Ref } from "effect"
import * as Message from "../core/Message.js"
import type { StoreError } from "../core/StoreError.js"
import * as Usage from "../core/Usage.js"
import type * as Data from "../data/Data.js"
import type * as Provider from "../provider/Provider.js"
import * as Compaction from "./Compaction.js"
import { type AgentControl, priceOf, type SessionControl } from "./control.js"
import { partsOf } from "./rates.js"
import { estimateMessages } from "./Tokens.js"

/**
 * What a compaction works on.
 * @internal
 */
export interface CompactEnv {
  readonly agent: AgentControl
  readonly provider: Provider.Service
  readonly history: Ref.Ref<Message.History>
  /** Replaces the history with the compacted one (with a session store, committed to it). */
  readonly replace: (history: Message.History) => Effect.Effect<void, StoreError>
  readonly data: Data.Store
  /** Counts a summariser's usage. */
  readonly account: (model: string | undefined, usage: Usage.Usage) => void
  /** Wall-clock milliseconds, for the record. */
  readonly now: number
  readonly reason: "window" | "manual"
  /** Whether a history is still over the limit after offloading; absent: always summarise. */
  readonly stillOver?: ((history: Message.History) => Effect.Effect<boolean>) | undefined
}

const describe = (error: unknown): string =>
  typeof error === "object" && error !== null && "message" in error ? String(error.message) : String(error)

/**
 * Compacts the history; `undefined` when there was nothing to compact. Fails with
 * `CompactionFailed` (the history unchanged) when the summariser fails.
 * @internal
 */
export const compactHistory = (
  env: CompactEnv
): Effect.Effect<Compaction.Record | undefined, Compaction.CompactionFailed | StoreError> =>
  Effect.gen(function* () {
    const settings = env.agent.compaction
    const before = yield* Ref.get(env.history)
    const { history: offloaded, offloaded: moved } = yield* Compaction.offload(before, env.data, settings.offloadOver)
    const summarise = env.stillOver === undefined ? true : yield* env.stillOver(offloaded)
    const from = summarise ? Compaction.splitPoint(offloaded, settings.keepTurns) : undefined
    let after = offloaded
    let summary: string | undefined
    if (from !== undefined) {
      const older = offloaded.slice(0, from)
      const write =
        settings.summarise === undefined
          ? modelSummariser(env.provider, settings.summaryModel)
          : givenSummariser(settings.summarise)
      const written = yield* Effect.mapError(
        write({ messages: older, transcript: Compaction.transcript(older) }),
        (error) =>
          new Compaction.CompactionFailed({
            message: `The summariser failed: ${describe(error)}. The history is unchanged.`
          })
      )
      env.account(written.model, written.usage)
      if (written.summary.trim().length === 0) {
        return yield* new Compaction.CompactionFailed({
          message: "The summariser returned an empty summary. The history is unchanged."
        })
      }
      summary = written.summary
      after = Compaction.replaceWithSummary(offloaded, from, summary)
    }
    if (moved.length === 0 && summary === undefined) return undefined
    // the ask (or compact()) holds the session's turn: nothing else wrote the history meanwhile
    yield* env.replace(after)
    return new Compaction.Record({
      at: env.now,
      reason: env.reason,
      tokensBefore: historyTokens(before),
      tokensAfter: historyTokens(after),
      summarised: from ?? 0,
      ...(summary === undefined ? {} : { summary }),
      offloaded: moved,
      removed: from === undefined ? [] : before.slice(0, from)
    })
  })

// the default summariser

const SUMMARY_SYSTEM =
  "You write summaries of conversations between a user and a data-analysis assistant, so that the assistant " +
  "can continue the conversation from the summary alone."

const SUMMARY_INSTRUCTION =
  "Summarise the conversation below for the assistant, who will continue it without seeing it again. Keep every " +
  "fact, number, name, decision and open question, and the user's preferences; name the data handles and tables " +
  "used and what they hold; say what was asked last and what is left to do. Plain prose or short bullets, no preamble."

/**
 * What the default summariser asks the model.
 * @internal
 */
export const summaryRequest = (input: Compaction.SummaryInput, model: string | undefined): Provider.Request => ({
  system: SUMMARY_SYSTEM,
  messages: [Message.user(`${SUMMARY_INSTRUCTION}\n\n<conversation>\n${input.transcript}\n</conversation>`)],
  tools: [],
  maxTokens: 2_048,
  ...(model === undefined ? {} : { model })
})

/**
 * A summary with what it cost to write (the default summariser's model call).
 * @internal
 */
export interface Written {
  readonly summary: string
  readonly usage: Usage.Usage
  readonly model: string | undefined
}

/**
 * The summariser over `provider` (one `chat` call), reporting its usage.
 * @internal
 */
export const modelSummariser =
  (provider: Provider.Service, model: string | undefined) =>
  (input: Compaction.SummaryInput): Effect.Effect<Written, unknown> =>
    Effect.map(provider.chat(summaryRequest(input, model)), (response) => ({
      summary: Message.textOf(response.content),
      usage: response.usage,
      model: response.model ?? model ?? provider.info.model
    }))

/**
 * A user's summariser, reporting no usage.
 * @internal
 */
export const givenSummariser =
  (summarise: Compaction.Summariser) =>
  (input: Compaction.SummaryInput): Effect.Effect<Written, unknown> =>
    Effect.map(summarise(input), (summary) => ({ summary, usage: Usage.empty, model: undefined }))

/**
 * The estimated tokens of a history (for records).
 * @internal
 */
export const historyTokens = (history: Message.History): number => estimateMessages(history)

/**
 * `session.compact()`: both steps whatever the size, the summariser's usage counted for the
 * session (its usage and meters) and the agent; the record kept in the session's list.
 * @internal
 */
export const compactSession = (
  config: { readonly provider: Provider.Service; readonly control: AgentControl },
  state: {
    readonly history: Ref.Ref<Message.History>
    readonly data: Data.Store
    /** Commits the compacted history and the summariser's usage (to the session store, if any). */
    readonly replace: (history: Message.History, usage: Usage.Usage) => Effect.Effect<void, StoreError>
  },
  session: SessionControl
): Effect.Effect<Compaction.Record | undefined, Compaction.CompactionFailed | StoreError> =>
  Effect.clockWith((clock) => {
    let summaryUsage = Usage.empty
    return Effect.tap(
      compactHistory({
        agent: config.control,
        provider: config.provider,
        history: state.history,
        replace: (history) => state.replace(history, summaryUsage),
        data: state.data,
        account: (model, usage) => {
          const name = model ?? config.provider.info.model
          const parts = partsOf(usage, priceOf(config.control, name))
          session.meter.addUsage(usage, parts, name)
          config.control.meter.addUsage(usage, parts, name)
          summaryUsage = Usage.add(summaryUsage, usage)
        },
        now: clock.currentTimeMillisUnsafe(),
        reason: "manual"
      }),
      (record) =>
        Effect.sync(() => {
          if (record !== undefined) session.compactions.push(record)
        })
    )
  })

/**
 * Before a model turn of an ask: compacts when `request` counts more than `limit` tokens (after
 * offloading, summarises only while still over); a summariser failure is logged and the ask goes
 * on. The record, if anything was compacted, is passed to `record` and returned.
 * @internal
 */
export const compactNearWindow = (env: {
  readonly agent: AgentControl
  readonly provider: Provider.Service
  readonly history: Ref.Ref<Message.History>
  readonly replace: (history: Message.History) => Effect.Effect<void, StoreError>
  readonly data: Data.Store
  readonly now: number
  readonly limit: number
  readonly request: Provider.Request
  readonly count: (request: Provider.Request) => Effect.Effect<number>
  readonly account: (model: string | undefined, usage: Usage.Usage) => void
  readonly record: (record: Compaction.Record) => void
}): Effect.Effect<Compaction.Record | undefined, StoreError> =>
  Effect.flatMap(env.count(env.request), (tokens) => {
    if (tokens <= env.limit) return Effect.succeed(undefined)
    const compacted = compactHistory({
      ...env,
      reason: "window",
      stillOver: (messages) => Effect.map(env.count({ ...env.request, messages }), (after) => after > env.limit)
    })
    return Effect.map(
      Effect.catchTag(compacted, "CompactionFailed", (error) =>
        Effect.as(Effect.logWarning(`data-harness: compaction skipped: ${error.message}`), undefined)
      ),
      (record) => {
        if (record !== undefined) env.record(record)
        return record
      }
    )
  })
