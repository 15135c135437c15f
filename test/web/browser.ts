/**
 * What the browser tests share: Debian's Chromium through playwright-core (a fresh profile per
 * launch, removed with the scope), a server's address, and waiting on the page's conversation.
 */
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import { Context, Effect, Layer, type Scope } from "effect"
import { HttpServer } from "effect/http"
import { type BrowserContext, chromium, type Page } from "playwright-core"

const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium"

/** Headless Chromium with a fresh profile, closed (and the profile removed) with the scope. */
export const launch: Effect.Effect<BrowserContext, never, Scope.Scope> = Effect.gen(function* () {
  const profile = Fs.mkdtempSync(Path.join(Os.tmpdir(), "dh-chromium-"))
  yield* Effect.addFinalizer(() => Effect.sync(() => Fs.rmSync(profile, { recursive: true, force: true })))
  if (!Fs.existsSync(CHROMIUM)) {
    return yield* Effect.die(new Error(`No Chromium at ${CHROMIUM}: apt-get install chromium (or set CHROMIUM_PATH).`))
  }
  return yield* Effect.acquireRelease(
    Effect.promise(() =>
      chromium.launchPersistentContext(profile, {
        executablePath: CHROMIUM,
        headless: true,
        args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        viewport: { width: 1280, height: 960 }
      })
    ),
    (browser) => Effect.promise(() => browser.close())
  )
})

/** Builds a server layer for the scope and gives its address (`http://127.0.0.1:<port>`). */
export const serve = <A, E>(
  layer: Layer.Layer<A | HttpServer.HttpServer, E>
): Effect.Effect<string, never, Scope.Scope> =>
  Effect.gen(function* () {
    const context = yield* Layer.build(layer).pipe(Effect.orDie)
    return HttpServer.formatAddress(Context.get(context, HttpServer.HttpServer).address)
  })

/** Waits until the last answer on the page has ended with `status`. */
export const ended = (page: Page, status: string, timeout = 30_000) =>
  page.waitForFunction(
    `document.querySelector("#conversation article.answer:last-of-type")?.dataset.status === ${JSON.stringify(status)}`,
    undefined,
    { timeout }
  )

/** Types a question into the page and asks it. */
export const ask = async (page: Page, prompt: string) => {
  await page.fill("#prompt", prompt)
  await page.click("#ask")
}
