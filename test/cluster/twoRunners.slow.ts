/**
 * Two runner processes on one real PostgreSQL 15, and this process as a client-only member of the
 * cluster (`Cluster.layerClient`): 200 sessions spread over both runners, asks routed to their
 * owners, an ask over HTTP through one runner's front answered by the session's owner on the other, an
 * interrupt that reaches the runner running the ask, and one runner killed with
 * SIGKILL in the middle of an ask: its sessions go on on the other runner with every committed
 * step, and the caller of the cut ask gets `AskInterrupted`; a call that waited for approval there
 * is listed and approved through the other runner's HTTP front, and its ask goes on and completes.
 *
 * Slow (two node processes, a Postgres cluster, a failover of a few seconds): `npm run test:cluster`.
 * The scripted model (`brain.ts`) stalls on cue instead of sleeping, so the kill lands while the
 * ask is known to be in flight.
 */
import { afterAll, assert, beforeAll, describe, it } from "@effect/vitest"
import { type Context, Deferred, Effect, Exit, Fiber, Layer, Scope, Stream } from "effect"
import { Cluster, SessionEntity } from "../../src/cluster/index.js"
import { type Message, SessionStore } from "../../src/index.js"
import { call, openSse } from "../server/helpers.js"
import { assertValidHistory, textOf } from "../utils/events.js"
import * as Postgres from "../utils/postgres.js"
import { emailTo } from "./brain.js"
import { type Runner, spawnRunner, specs } from "./runners.js"

const missing = Postgres.missing()
if (missing !== undefined) console.warn(`skipping the two-runner cluster suite: ${missing}`)

const SESSIONS = 200
const sharding: Cluster.ShardingOptions = { ...Cluster.fastFailover, shardsPerGroup: 30 }

type Client = Cluster.Sessions | SessionStore.SessionStore

/** The tokens of each runner's HTTP front: one per tenant of the suite. */
const grants = [
  { tenant: "even", token: "token-even" },
  { tenant: "odd", token: "token-odd" }
]
const tokenOf = (tenant: string) => grants.find((grant) => grant.tenant === tenant)!.token

/** Waits until the runners hold every shard between them, each some. */
const settled = async (runners: ReadonlyArray<Runner>, total: number): Promise<void> => {
  for (;;) {
    const held = runners.map((runner) => runner.shards())
    if (held.every((n) => n > 0) && held.reduce((a, b) => a + b, 0) === total) return
    await Promise.race(runners.map((runner, i) => runner.whenShards((n) => n !== held[i])))
  }
}

/** `after` continues `before`: every message of `before` is there, the last one maybe grown. */
const assertExtends = (before: Message.History, after: Message.History, where: string) => {
  assert.isAtLeast(after.length, before.length, `${where}: messages were lost`)
  before.forEach((message, i) => {
    const now = after[i]!
    assert.strictEqual(now.role, message.role, `${where}: message ${i}`)
    const kept = i === before.length - 1 ? now.content.slice(0, message.content.length) : now.content
    assert.deepStrictEqual(kept, message.content, `${where}: message ${i} changed`)
  })
}

/**
 * Asks `email <name>` (its `send_email` call waits for approval) in a fiber; returns once the
 * call waits, with the chunks so far (they keep coming into `chunks`) and the fiber.
 */
const askUntilApproval = (
  cluster: Cluster.Sessions["Service"],
  key: SessionStore.SessionKey,
  name: string,
  askId: string
) =>
  Effect.gen(function* () {
    const paused = yield* Deferred.make<void>()
    const chunks: Array<SessionEntity.AskChunk> = []
    const fiber = yield* cluster.askStream(key, `email ${name}`, { askId }).pipe(
      Stream.runForEach((chunk) =>
        Effect.suspend(() => {
          chunks.push(chunk)
          return chunk._tag === "Event" && chunk.event.type === "approval_request"
            ? Deferred.succeed(paused, undefined)
            : Effect.void
        })
      ),
      Effect.exit,
      Effect.forkChild
    )
    yield* Deferred.await(paused)
    return { chunks, fiber }
  })

/**
 * A call that waited when its runner was killed: listed and approved through `front` (the other
 * member), where its ask goes on under its own id and completes; read over HTTP, and by the caller
 * that asked before the kill (each event once).
 */
const approvedAfterFailover = (
  front: Runner,
  key: SessionStore.SessionKey,
  paused: {
    readonly askId: string
    readonly name: string
    /** The caller that asked through a member that lives on (its call is re-sent), if any. */
    readonly caller?: Effect.Success<ReturnType<typeof askUntilApproval>> | undefined
  }
) =>
  Effect.gen(function* () {
    const token = tokenOf(key.tenant)
    const path = `/v1/sessions/${key.id}/approvals`
    const listed = yield* call(front.url!, "GET", path, { token })
    assert.strictEqual(listed.status, 200, JSON.stringify(listed.body))
    assert.deepStrictEqual(
      listed.body.approvals.map((a: { tool_use_id: string; input: unknown }) => [a.tool_use_id, a.input]),
      [[`toolu_${paused.name}`, emailTo(paused.name)]]
    )
    const running = (yield* call(front.url!, "GET", `/v1/sessions/${key.id}/history`, { token })).body.running_ask
    if (paused.caller === undefined) assert.strictEqual(running, null, "its caller died with the runner")
    console.log(
      running === paused.askId
        ? `${paused.askId}: the cluster re-sent its caller's call, which went on with it; the decision reached it`
        : `${paused.askId}: no ask ran; the decision went on with it`
    )
    const approved = yield* call(front.url!, "POST", `${path}/toolu_${paused.name}`, {
      token,
      body: { decision: "approve" }
    })
    assert.strictEqual(approved.status, 200, JSON.stringify(approved.body))
    assert.strictEqual(approved.body.ask_id, paused.askId, "the paused ask goes on under its own id")
    const events = yield* (yield* openSse(front.url!, "GET", `/v1/sessions/${key.id}/asks/${paused.askId}/events`, {
      token
    })).toEnd
    const result = events.find((e) => e.event === "tool_result")
    assert.strictEqual(result?.data.content, `sent to ${paused.name}@example.com`)
    assert.deepInclude(events.at(-1)!.data, {
      type: "ask_end",
      ask_id: paused.askId,
      status: "completed",
      runner: front.address
    })
    assert.deepStrictEqual((yield* call(front.url!, "GET", path, { token })).body, { approvals: [] })
    const caller = paused.caller
    if (caller === undefined) return
    // the caller from before the kill: the cluster re-sent its call, and it reads the ask to its end
    const exit = yield* Fiber.join(caller.fiber)
    assert.isTrue(Exit.isSuccess(exit), String(exit))
    assert.deepInclude(caller.chunks.at(-1)!, { _tag: "Done", askId: paused.askId, status: "completed" })
    const ids = caller.chunks.flatMap((chunk) => (chunk._tag === "Event" ? [chunk.id] : []))
    assert.deepStrictEqual(
      ids,
      ids.map((_, i) => i + 1),
      "each event once, in order"
    )
    const text = textOf(caller.chunks.flatMap((chunk) => (chunk._tag === "Event" ? [chunk.event] : [])))
    assert.strictEqual(text, `Result: sent to ${paused.name}@example.com`)
  })

describe.skipIf(missing !== undefined)("two runner processes on one PostgreSQL", () => {
  const scope = Scope.makeUnsafe()
  let runners: ReadonlyArray<Runner> = []
  let client: Context.Context<Client> | undefined
  const keys = Array.from({ length: SESSIONS }, (_, i) => ({ tenant: i % 2 === 0 ? "even" : "odd", id: `s${i}` }))
  /** The runner address that answered each session's first ask. */
  const owner = new Map<string, string>()

  beforeAll(async () => {
    const server = await Effect.runPromise(Scope.provide(Postgres.start, scope))
    const [alpha, beta] = await specs(server, sharding, ["alpha", "beta"], grants)
    runners = await Promise.all([spawnRunner(alpha!), spawnRunner(beta!)])
    await settled(runners, sharding.shardsPerGroup!)
    const layer = Cluster.layerClient({ connection: Postgres.clientConfig(server), sharding, timeout: "90 seconds" })
    client = await Effect.runPromise(Layer.buildWithScope(layer, scope))
  }, 180_000)

  afterAll(async () => {
    await Promise.all(runners.map((runner) => runner.kill("SIGKILL")))
    await Effect.runPromise(Scope.close(scope, Exit.void))
  }, 60_000)

  const run = <A, E>(effect: Effect.Effect<A, E, Client>) => Effect.provideContext(effect, client!)
  const sessions = Effect.service(Cluster.Sessions)
  const store = Effect.service(SessionStore.SessionStore)

  it.live(
    `${SESSIONS} sessions spread over both runners; each ask is answered by its own session on its owner`,
    () =>
      run(
        Effect.gen(function* () {
          const cluster = yield* sessions
          yield* Effect.forEach(keys, (key) => cluster.create(key.tenant, { id: key.id }), { concurrency: 20 })
          const replies = yield* Effect.forEach(keys, (key) => cluster.ask(key, `first question of ${key.id}`), {
            concurrency: 20
          })
          replies.forEach((reply, i) => {
            const key = keys[i]!
            assert.strictEqual(reply.session, SessionEntity.entityId(key))
            assert.match(reply.text, new RegExp(`^answer 1 on (alpha|beta): first question of ${key.id}$`))
            owner.set(reply.session, reply.runner)
          })
          const byRunner = new Map<string, number>()
          for (const runner of owner.values()) byRunner.set(runner, (byRunner.get(runner) ?? 0) + 1)
          console.log(`sessions per runner: ${JSON.stringify(Object.fromEntries(byRunner))}`)
          assert.sameMembers(
            [...byRunner.keys()],
            runners.map((runner) => runner.address)
          )
          for (const count of byRunner.values()) assert.isAtLeast(count, SESSIONS / 5, "both runners serve a share")
          // the runner's name in the answer is the runner that owns the session
          replies.forEach((reply) => {
            const named = runners.find((runner) => reply.text.includes(` on ${runner.name}:`))!
            assert.strictEqual(named.address, reply.runner)
          })
          // a second ask goes to the same owner, with the first one in the session's history
          const again = yield* Effect.forEach(keys, (key) => cluster.ask(key, "second"), { concurrency: 20 })
          again.forEach((reply) => {
            assert.strictEqual(reply.runner, owner.get(reply.session))
            assert.match(reply.text, /^answer 2 on (alpha|beta): second$/)
          })
        })
      ),
    120_000
  )

  it.live(
    "an ask over HTTP through one runner's front is answered by the session's owner on the other runner",
    () =>
      Effect.gen(function* () {
        const [alpha, beta] = runners
        // a session of each runner (not one the later tests count asks of), asked through the other's front
        for (const [front, holder] of [
          [alpha!, beta!],
          [beta!, alpha!]
        ] as const) {
          const key = keys.findLast((k) => owner.get(SessionEntity.entityId(k)) === holder.address)!
          const token = tokenOf(key.tenant)
          const ask = yield* openSse(front.url!, "POST", `/v1/sessions/${key.id}/asks`, {
            token,
            body: { prompt: "over http" }
          })
          assert.strictEqual(ask.status, 200, JSON.stringify(ask.body))
          const events = yield* ask.toEnd
          const end = events.at(-1)!.data
          assert.deepInclude(end, {
            type: "ask_end",
            status: "completed",
            runner: holder.address,
            session: SessionEntity.entityId(key)
          })
          const text = events
            .filter((e) => e.event === "content_block_delta" && e.data.delta.type === "text_delta")
            .map((e) => e.data.delta.text)
            .join("")
          assert.strictEqual(text, `answer 3 on ${holder.name}: over http`)
          const ids = events.flatMap((e) => (e.id === undefined ? [] : [Number(e.id)]))
          assert.deepStrictEqual(
            ids,
            ids.map((_, i) => i + 1)
          )
          const history = yield* call(front.url!, "GET", `/v1/sessions/${key.id}/history`, { token })
          assert.strictEqual(history.body.runner, holder.address)
          assert.strictEqual(history.body.messages.length, 6)
          // the other tenant's token does not reach it, through either front
          const other = tokenOf(key.tenant === "even" ? "odd" : "even")
          assert.strictEqual(
            (yield* call(front.url!, "GET", `/v1/sessions/${key.id}/history`, { token: other })).status,
            404
          )
        }
      }),
    60_000
  )

  it.live(
    "an interrupt from another process reaches the runner that runs the ask",
    () =>
      run(
        Effect.gen(function* () {
          const cluster = yield* sessions
          const key = keys[7]!
          const texted = yield* Deferred.make<void>()
          const fiber = yield* cluster.askStream(key, "stall here").pipe(
            Stream.tap((chunk) =>
              chunk._tag === "Event" && chunk.event.type === "content_block_delta"
                ? Deferred.succeed(texted, undefined)
                : Effect.void
            ),
            Stream.runCollect,
            Effect.forkChild
          )
          yield* Deferred.await(texted)
          const askId = yield* cluster.interrupt(key)
          const chunks = yield* Fiber.join(fiber)
          const done = chunks[chunks.length - 1]!
          assert.deepInclude(done, { _tag: "Done", status: "interrupted", askId: askId! })
          assert.strictEqual((done as SessionEntity.AskDone).runner, owner.get(SessionEntity.entityId(key)))
          const next = yield* cluster.ask(key, "after the interrupt")
          assert.match(next.text, /^answer 4 on (alpha|beta): after the interrupt$/)
          assertValidHistory((yield* cluster.history(key)).history)
        })
      ),
    60_000
  )

  it.live(
    "a runner killed mid-ask: its sessions answer on the other runner with every committed step, the cut ask's caller gets AskInterrupted, calls waiting for approval are approved through the other member and their asks complete",
    () =>
      run(
        Effect.gen(function* () {
          const cluster = yield* sessions
          const sessionStore = yield* store
          const victim = runners[1]!
          const survivor = runners[0]!
          const moved = keys.filter((key) => owner.get(SessionEntity.entityId(key)) === victim.address)
          const stayed = keys.filter((key) => owner.get(SessionEntity.entityId(key)) === survivor.address)
          const cut = moved[0]!
          // an ask in flight on the victim: a tool call committed, then text, then the model stalls
          const texted = yield* Deferred.make<void>()
          const seen: Array<SessionEntity.AskChunk> = []
          const fiber = yield* cluster.askStream(cut, "tool then stall", { askId: "cut-ask" }).pipe(
            Stream.runForEach((chunk) =>
              Effect.andThen(
                Effect.sync(() => seen.push(chunk)),
                chunk._tag === "Event" && chunk.event.type === "content_block_delta"
                  ? Deferred.succeed(texted, undefined)
                  : Effect.void
              )
            ),
            Effect.exit,
            Effect.forkChild
          )
          yield* Deferred.await(texted)
          // and an ask on the victim paused for approval: its call committed as waiting
          const paused = moved[1]!
          const pausedAsk = yield* askUntilApproval(cluster, paused, "zed", "paused-ask")
          // and one asked through the victim's own HTTP front: its caller dies with it
          const orphan = moved[2]!
          const orphanStream = yield* openSse(victim.url!, "POST", `/v1/sessions/${orphan.id}/asks`, {
            token: tokenOf(orphan.tenant),
            body: { prompt: "email yan", ask_id: "orphan-ask" }
          })
          yield* orphanStream.until((event) => event.event === "approval_request")
          const committed = yield* Effect.forEach(moved, (key) => sessionStore.load(key), { concurrency: 10 })
          const killedAt = Date.now()
          yield* Effect.promise(() => victim.kill("SIGKILL"))

          // every session of the dead runner answers on the survivor, its history carried over (but
          // the paused ones: a new prompt would answer their waiting calls as not run)
          const asked = moved.filter((key) => key !== paused && key !== orphan)
          const replies = yield* Effect.forEach(asked, (key) => cluster.ask(key, "after the failover"), {
            concurrency: 20
          })
          const failover = (Date.now() - killedAt) / 1000
          console.log(
            `${moved.length} sessions of the killed runner all answered on the survivor ${failover.toFixed(1)} s after SIGKILL`
          )
          replies.forEach((reply, i) => {
            assert.strictEqual(reply.runner, survivor.address)
            assert.strictEqual(reply.session, SessionEntity.entityId(asked[i]!))
            assert.include(reply.text, `on ${survivor.name}: after the failover`)
          })

          // the cut ask: no repeated event, then the typed error
          const exit = yield* Fiber.join(fiber)
          assert.isTrue(Exit.isFailure(exit), "the cut ask did not fail")
          const failure = Exit.isFailure(exit) ? exit.cause.reasons.find((reason) => reason._tag === "Fail") : undefined
          assert.instanceOf(failure?._tag === "Fail" ? failure.error : undefined, SessionEntity.AskInterrupted)
          const ids = seen.flatMap((chunk) => (chunk._tag === "Event" ? [chunk.id] : []))
          assert.deepStrictEqual(
            ids,
            ids.map((_, i) => i + 1),
            "each event once, in order"
          )
          assert.isFalse(
            seen.some((chunk) => chunk._tag === "Done"),
            "the cut ask did not run again"
          )
          assert.strictEqual((yield* sessionStore.readEvents(cut, "cut-ask")).end?.status, "interrupted")

          // the paused calls, listed and approved through the survivor's front; their asks go on there
          yield* approvedAfterFailover(survivor, paused, { askId: "paused-ask", name: "zed", caller: pausedAsk })
          yield* orphanStream.close
          yield* approvedAfterFailover(survivor, orphan, { askId: "orphan-ask", name: "yan" })

          // nothing committed before the kill is lost; every history is valid and as stored
          yield* Effect.forEach(
            moved,
            (key, i) =>
              Effect.gen(function* () {
                const now = yield* cluster.history(key)
                assert.strictEqual(now.runner, survivor.address)
                assertExtends(committed[i]!.history, now.history, key.id)
                assertValidHistory(now.history, key.id)
                assert.deepStrictEqual((yield* sessionStore.load(key)).history, now.history, key.id)
              }),
            { concurrency: 20, discard: true }
          )
          // the survivor's own sessions were not disturbed
          const untouched = yield* Effect.forEach(stayed.slice(0, 20), (key) => cluster.ask(key, "still here"), {
            concurrency: 10
          })
          for (const reply of untouched) assert.strictEqual(reply.runner, survivor.address)
        })
      ),
    150_000
  )
})
