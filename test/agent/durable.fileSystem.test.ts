import * as FsP from "node:fs/promises"
import * as Os from "node:os"
import * as Path from "node:path"
import { afterAll, beforeAll } from "@effect/vitest"
import { SessionStore } from "../../src/index.js"
import { durableSessions } from "./durable.js"
import { approvalSteps, durableApprovals } from "./durableApproval.js"

let directory = ""
beforeAll(async () => {
  directory = await FsP.mkdtemp(Path.join(Os.tmpdir(), "dh-durable-fs-"))
})
afterAll(async () => {
  await FsP.rm(directory, { recursive: true, force: true })
})

const subject = { name: "SessionStore.layerFileSystem", layer: () => SessionStore.layerFileSystem({ directory }) }
durableSessions(subject)
durableApprovals(subject)
approvalSteps(subject)
