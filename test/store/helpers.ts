/**
 * What the store contract tests share: the layer under test, a store instance per step, and
 * assertions on results and histories.
 */
import * as Crypto from "node:crypto"
import * as FsP from "node:fs/promises"
import * as Os from "node:os"
import * as Path from "node:path"
import { assert } from "@effect/vitest"
import { Effect, Exit, type Layer, type Scope } from "effect"
import type * as Message from "../../src/core/Message.js"
import * as SessionStore from "../../src/store/SessionStore.js"
import type { ChildStorage } from "./crash.js"

export interface Subject {
  readonly name: string
  /**
   * A store over the subject's storage: each build is a new instance (a restart) when persistent;
   * the memory subject gives the same instance every time.
   */
  readonly layer: () => Layer.Layer<SessionStore.SessionStore, SessionStore.StoreError>
  /** Whether a new instance sees what an earlier one stored. */
  readonly persistent: boolean
  /** How a child process opens the same storage (for the crash test). */
  readonly child?: (() => ChildStorage) | undefined
  /** How many times the crash test kills a child. */
  readonly kills?: number | undefined
}

/** A tenant of its own for one test (suites may share storage). */
export const tenantName = (label: string) => `${label} ${Crypto.randomUUID()}`

/** Runs `f` with a fresh store instance, closed at the end. */
export const withStore = <A, E>(
  subject: Subject,
  f: (store: SessionStore.Service) => Effect.Effect<A, E, Scope.Scope>
): Effect.Effect<A, E | SessionStore.StoreError> =>
  Effect.scoped(
    Effect.gen(function* () {
      return yield* f(yield* SessionStore.SessionStore)
    }).pipe(Effect.provide(subject.layer()))
  )

/** The reason of a failed store operation. */
export const reasonOf = <A>(effect: Effect.Effect<A, SessionStore.StoreError>) =>
  Effect.map(Effect.exit(effect), (exit) => {
    if (Exit.isSuccess(exit)) return "success"
    const error = exit.cause.reasons.find((reason) => reason._tag === "Fail")
    return error?._tag === "Fail" ? (error.error as SessionStore.StoreError).reason : "defect"
  })

/** Tool results come first in a user message (the API rejects text before them). */
export const assertResultsFirst = (history: Message.History): void => {
  for (const message of history) {
    const kinds = message.content.map((block) => block.type === "tool_result")
    assert.isFalse(
      kinds.some((isResult, i) => isResult && i > 0 && !kinds[i - 1]),
      "tool results come first"
    )
  }
}

/** A path in a temporary directory removed with the scope. */
export const tempFile = (name: string) =>
  Effect.acquireRelease(
    Effect.promise(async () => Path.join(await FsP.mkdtemp(Path.join(Os.tmpdir(), "dh-store-test-")), name)),
    (path) => Effect.promise(() => FsP.rm(Path.dirname(path), { recursive: true, force: true }))
  )
