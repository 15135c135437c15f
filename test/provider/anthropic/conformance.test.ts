/**
 * `npm run conformance` on the recorded Anthropic streams of the shared corpus (40 responses from
 * the real API, recorded by four public projects; see its SOURCES.md), run as a user runs it: the
 * script in its own process. The corpus is read where it lies, never copied into the repository;
 * without it the test is skipped and says where it looked.
 */
import { execFile } from "node:child_process"
import { existsSync } from "node:fs"
import { resolve } from "node:path"
import { fileURLToPath } from "node:url"
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"

const root = fileURLToPath(new URL("../../../", import.meta.url))
const candidates = [
  process.env.CONFORMANCE_ANTHROPIC_DIR,
  resolve(root, "../shared/conformance/anthropic-real"),
  resolve(root, "../../shared/conformance/anthropic-real")
].filter((dir): dir is string => dir !== undefined && dir !== "")
const corpus = candidates.find((dir) => existsSync(resolve(dir, "SOURCES.md")))

/** Runs the conformance script on `dir` in a child process: its exit code and output. */
const conformance = (dir: string) =>
  Effect.callback<{ readonly code: number; readonly stdout: string; readonly stderr: string }>((resume) => {
    execFile(
      process.execPath,
      ["--import", "tsx", resolve(root, "scripts/conformance/index.ts"), dir],
      { cwd: root, timeout: 240_000, maxBuffer: 16 * 1024 * 1024 },
      (error, stdout, stderr) => {
        const code = error === null ? 0 : typeof error.code === "number" ? error.code : 1
        resume(Effect.succeed({ code, stdout, stderr }))
      }
    )
  })

describe("npm run conformance on the recorded Anthropic corpus", () => {
  if (corpus === undefined) {
    it.skip(`skipped: the corpus was not found (looked in ${candidates.join(", ")}; set CONFORMANCE_ANTHROPIC_DIR)`, () => {})
    return
  }

  it.live(
    "every recorded stream folds to what the official SDK's finalMessage() makes of it: 40 passed, 0 failed",
    () =>
      Effect.gen(function* () {
        const { code, stdout, stderr } = yield* conformance(corpus)
        const lines = stdout.trim().split("\n")
        assert.strictEqual(lines[lines.length - 1], "40 passed, 0 failed", `${stdout}\n${stderr}`)
        assert.strictEqual(code, 0)
      }),
    { timeout: 300_000 }
  )
})
