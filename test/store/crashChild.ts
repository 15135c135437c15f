/**
 * The process the crash test kills: it opens a store (from the JSON spec in argv[2]), creates or
 * resumes one session, and commits the steps of `script.ts` in a loop, printing `committed <seq>`
 * after each commit returns (stdout to a pipe is synchronous on Linux, so a printed line was
 * committed). It runs until it is killed. The test bundles it with esbuild, so it starts fast.
 */
import { Effect, type Layer } from "effect"
import * as SessionStore from "../../src/store/SessionStore.js"
import { commit } from "./script.js"

export type Spec =
  | { readonly kind: "fileSystem"; readonly directory: string; readonly tenant: string; readonly id: string }
  | {
      readonly kind: "postgres"
      readonly socketDirectory: string
      readonly port: number
      readonly tenant: string
      readonly id: string
    }

const spec = JSON.parse(process.argv[2]!) as Spec

const layer: Layer.Layer<SessionStore.SessionStore, SessionStore.StoreError> =
  spec.kind === "fileSystem"
    ? SessionStore.layerFileSystem({ directory: spec.directory })
    : SessionStore.layerPostgres({
        connection: { host: spec.socketDirectory, port: spec.port, username: "postgres", database: "postgres" }
      })

const program = Effect.gen(function* () {
  const store = yield* SessionStore.SessionStore
  const key = { tenant: spec.tenant, id: spec.id }
  const session = yield* store
    .load(key)
    .pipe(
      Effect.catchTag("StoreError", (error) =>
        error.reason === "NotFound" ? store.create(spec.tenant, { id: spec.id }) : Effect.fail(error)
      )
    )
  let seq = session.seq
  process.stdout.write(`ready ${seq}\n`)
  for (;;) {
    seq = yield* store.commit(key, commit(seq + 1), { expectedSeq: seq })
    process.stdout.write(`committed ${seq}\n`)
  }
})

Effect.runPromise(Effect.scoped(Effect.provide(program, layer))).catch((error) => {
  process.stderr.write(`crash child failed: ${error}\n`)
  process.exit(2)
})
