/**
 * The entity's messages on the runners' wire: Effect Cluster's socket transport encodes every RPC
 * payload, stream chunk and error with `SchemaBinary`, which needs a binary layout for each schema
 * (the in-process runner of `local.test.ts` does not use it).
 */
import { assert, describe, it } from "@effect/vitest"
import { Schema } from "effect"
import { SchemaBinary } from "effect/encoding"
import { SessionEntity } from "../../src/cluster/index.js"
import { Approval, HarnessError, Message, SessionStore, Usage } from "../../src/index.js"

const roundTrip = <S extends Schema.Top>(schema: S, value: S["Type"]): S["Type"] => {
  const codec = SchemaBinary.toCodec(schema as never) as unknown as Schema.Codec<S["Type"], Uint8Array>
  return Schema.decodeUnknownSync(codec)(Schema.encodeUnknownSync(codec)(value))
}

describe("Session entity on the binary wire", () => {
  it("an event crosses with every field, also those the harness does not read", () => {
    const event = {
      type: "message_start",
      message: {
        id: "msg_1",
        type: "message",
        role: "assistant",
        model: "claude-x",
        content: [],
        usage: { input_tokens: 3, output_tokens: 0, service_tier: "standard" },
        container: { id: "c1" }
      },
      future_field: [1, { deep: true }]
    }
    const chunk: SessionEntity.AskChunk = { _tag: "Event", id: 7, event: event as never }
    assert.deepStrictEqual(roundTrip(SessionEntity.AskChunk, chunk), chunk)
  })

  it("the Done of an ask, a history reply and a put payload cross unchanged", () => {
    const done: SessionEntity.AskChunk = {
      _tag: "Done",
      askId: "a1",
      status: "completed",
      usage: Usage.make({ inputTokens: 10, outputTokens: 2 }),
      runner: "127.0.0.1:34431",
      session: "acme/s1"
    }
    assert.deepStrictEqual(roundTrip(SessionEntity.AskChunk, done), done)
    const history: SessionEntity.HistoryReply = {
      history: [
        Message.user([Message.text("q")]),
        Message.assistant([Message.text("a"), { type: "tool_use", id: "t1", name: "sql", input: { query: "x" } }]),
        Message.user([Message.toolResult("t1", "1 row")])
      ],
      usage: Usage.make({ outputTokens: 5 }),
      runner: "127.0.0.1:34431",
      running: "a2"
    }
    assert.deepStrictEqual(roundTrip(SessionEntity.HistoryReply, history), history)
    const put = SessionEntity.Put.payloadSchema
    const payload = { name: "sales", value: [{ region: "EU", revenue: 120.5, note: null }], overwrite: true }
    assert.deepStrictEqual(roundTrip(put, payload), payload)
  })

  it("every ask error crosses as its own class", () => {
    const errors: ReadonlyArray<SessionEntity.AskError> = [
      new SessionEntity.AskInterrupted({ askId: "a", tenant: "t", sessionId: "s", message: "cut" }),
      new SessionStore.StoreError({ reason: "NotFound", message: "no such session", tenant: "t", sessionId: "s" }),
      new HarnessError.ProviderError({ reason: "Overloaded", provider: "anthropic", status: 529, message: "busy" }),
      new HarnessError.InvalidOptions({ option: "prompt", message: "empty" })
    ]
    for (const error of errors) {
      const back = roundTrip(SessionEntity.AskError, error)
      assert.strictEqual(back.constructor, error.constructor)
      assert.deepStrictEqual({ ...back }, { ...error })
    }
  })

  it("the approval messages cross unchanged: the waiting calls, a decision with edited input or a reason, ApprovalNotPending", () => {
    const waiting: SessionEntity.PendingApproval = {
      toolUseId: "toolu_1",
      tool: "send_email",
      input: { to: "ana@example.com", cc: [null, 1.5], nested: { deep: true } },
      reason: "emails leave the company",
      requestedAt: 1_765_000_000_123
    }
    const unexplained: SessionEntity.PendingApproval = {
      toolUseId: "toolu_2",
      tool: "sql",
      input: { query: "select 1" },
      requestedAt: 1_765_000_000_456
    }
    assert.deepStrictEqual(roundTrip(SessionEntity.Approvals.successSchema, [waiting, unexplained]), [
      waiting,
      unexplained
    ])
    const decide = SessionEntity.Decide.payloadSchema
    for (const payload of [
      { toolUseId: "toolu_1", decision: { _tag: "Approved" as const } },
      {
        toolUseId: "toolu_1",
        decision: { _tag: "Approved" as const, input: { to: "bo@example.com", body: "edited" } }
      },
      { toolUseId: "toolu_1", decision: { _tag: "Denied" as const, reason: "Not to external addresses." } }
    ]) {
      assert.deepStrictEqual(roundTrip(decide, payload), payload)
    }
    const notPending = new Approval.ApprovalNotPending({ toolUseId: "toolu_9", message: "no call waits" })
    const back = roundTrip(SessionEntity.Decide.errorSchema, notPending)
    assert.instanceOf(back, Approval.ApprovalNotPending)
    assert.deepStrictEqual({ ...back }, { ...notPending })
    const resumed = roundTrip(SessionEntity.AskError, new HarnessError.NothingToResume({ message: "nothing" }))
    assert.instanceOf(resumed, HarnessError.NothingToResume)
    assert.deepStrictEqual(roundTrip(SessionEntity.Events.payloadSchema, { askId: "a1", after: 7 }), {
      askId: "a1",
      after: 7
    })
  })
})
