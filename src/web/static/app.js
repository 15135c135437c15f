// @ts-check
/** @import { Decision, LogEvent, Me, SessionInfo } from "./types.js" */
/**
 * The analyst page: sign in, keep one session (its id in localStorage, so a reload finds it), load
 * data into it, ask, and show the answer as it streams. A reload rebuilds the conversation from the
 * session's history, and follows an ask that is still running. Tool calls waiting for approval get
 * a card to approve or deny them (from their event, and from the session's list after a reload or
 * a reconnect); a decision that resumes an ask whose stream ended is followed like an ask.
 */
import * as api from "./api.js"
import { h } from "./dom.js"
import { handleItem } from "./handles.js"
import { opening } from "./opening.js"
import { follow } from "./stream.js"
import { Transcript } from "./transcript.js"

const SESSION_KEY = "data-harness.session"

/**
 * @template {HTMLElement} T
 * @param {string} id
 * @param {new () => T} type
 * @returns {T}
 */
const byId = (id, type) => {
  const element = document.getElementById(id)
  if (!(element instanceof type)) throw new Error(`#${id} is missing`)
  return element
}

const ui = {
  login: byId("login", HTMLElement),
  loginForm: byId("login-form", HTMLFormElement),
  loginToken: byId("login-token", HTMLInputElement),
  loginError: byId("login-error", HTMLElement),
  app: byId("app", HTMLElement),
  model: byId("model", HTMLElement),
  session: byId("session", HTMLElement),
  newSession: byId("new-session", HTMLButtonElement),
  logout: byId("logout", HTMLButtonElement),
  fileInput: byId("file-input", HTMLInputElement),
  samples: byId("samples", HTMLElement),
  handles: byId("handles", HTMLElement),
  conversation: byId("conversation", HTMLElement),
  composer: byId("composer", HTMLFormElement),
  prompt: byId("prompt", HTMLTextAreaElement),
  ask: byId("ask", HTMLButtonElement),
  interrupt: byId("interrupt", HTMLButtonElement),
  status: byId("status", HTMLElement)
}

const state = {
  sessionId: "",
  /** The newest event id seen: where to resume from. */
  lastEventId: 0,
  running: false,
  /** @type {string | undefined} the ask being followed, from its `ask_start` to its `ask_end` */
  following: undefined,
  /** @type {Promise<unknown>} the current (or last) `run` */
  current: Promise.resolve(),
  /** @type {Set<string>} asks a decision started, which the page is about to follow */
  resuming: new Set()
}

/**
 * Posts a decision about a waiting call. When it starts an ask (it resumes a pause whose ask
 * ended), the page follows that ask's events.
 * @param {string} toolUseId
 * @param {Decision} decision
 */
const decide = async (toolUseId, decision) => {
  const decided = await api.decide(state.sessionId, toolUseId, decision)
  const askId = decided.ask_id
  if (askId !== null && askId !== state.following && !state.resuming.has(askId)) void followResumed(askId)
  return decided
}

const transcript = new Transcript(ui.conversation, () => state.sessionId, decide)

/**
 * @param {string} text
 * @param {"info" | "error" | "warn"} [kind]
 */
const status = (text, kind = "info") => {
  ui.status.textContent = text
  ui.status.dataset.kind = kind
}

/** @param {unknown} error */
const describe = (error) => (error instanceof api.ApiError ? `${error.tag}: ${error.message}` : String(error))

/** @param {boolean} running */
const setRunning = (running) => {
  state.running = running
  ui.ask.disabled = running
  ui.interrupt.disabled = !running
  document.body.dataset.running = String(running)
}

// data

const refreshHandles = async () => {
  try {
    const { handles } = await api.handles(state.sessionId)
    ui.handles.replaceChildren(
      ...(handles.length === 0 ? [h("li", { class: "empty" }, "No data yet: upload a file or pick a sample.")] : []),
      ...handles.map(handleItem)
    )
  } catch (error) {
    status(`Could not list the data: ${describe(error)}`, "error")
  }
}

const FORMATS = /** @type {Record<string, string>} */ ({
  csv: "csv",
  tsv: "tsv",
  tab: "tsv",
  json: "json",
  jsonl: "jsonl",
  ndjson: "jsonl",
  parquet: "parquet"
})

/**
 * Uploads a file as a handle named after it.
 * @param {Blob} file
 * @param {string} fileName
 */
const uploadFile = async (file, fileName) => {
  const dot = fileName.lastIndexOf(".")
  const format = FORMATS[fileName.slice(dot + 1).toLowerCase()]
  if (dot < 0 || format === undefined) {
    status(`${fileName}: upload CSV, TSV, JSON, JSONL or Parquet files.`, "error")
    return
  }
  const name =
    fileName
      .slice(0, dot)
      .replace(/[^A-Za-z0-9_]/g, "_")
      .replace(/^(?=\d)/, "_") || "data"
  status(`Uploading ${fileName}…`)
  try {
    const uploaded = await api.upload(state.sessionId, name, file, format)
    status(`Loaded ${fileName} as ${uploaded.name}.`)
  } catch (error) {
    status(`${fileName}: ${describe(error)}`, "error")
  }
  await refreshHandles()
}

// asking

/**
 * Lists the calls waiting for approval and shows a card for each not shown yet; a card still
 * waiting whose call is no longer listed closes.
 */
const syncApprovals = async () => {
  const since = transcript.approvals.mark()
  try {
    const { approvals } = await api.approvals(state.sessionId)
    transcript.approvals.waiting(approvals, since)
  } catch (error) {
    status(`Could not list the calls waiting for approval: ${describe(error)}`, "error")
  }
}

/**
 * Shows an event (`show` may hold events back, see `opening`).
 * @param {LogEvent} event
 */
const showEvent = (event) => {
  const stick = ui.conversation.scrollHeight - ui.conversation.scrollTop - ui.conversation.clientHeight < 120
  transcript.apply(event.data, event.id)
  if (stick) ui.conversation.scrollTop = ui.conversation.scrollHeight
  if (event.data.type === "tool_result" || event.data.type === "ask_end") void refreshHandles()
}

/**
 * Follows an ask on the page until it ends, resuming after drops (and then listing the calls
 * waiting for approval, in case their events are older than the log keeps).
 * @param {(signal: AbortSignal) => Promise<Response>} first
 * @param {number | undefined} after
 * @param {(event: LogEvent) => ReadonlyArray<LogEvent>} [show] the events to show now, for each that arrives
 * @returns {Promise<"ended" | "none" | "failed">}
 */
const run = (first, after, show = (event) => [event]) => {
  const running = follows(first, after, show)
  state.current = running
  return running
}

/**
 * @param {(signal: AbortSignal) => Promise<Response>} first
 * @param {number | undefined} after
 * @param {(event: LogEvent) => ReadonlyArray<LogEvent>} show
 * @returns {Promise<"ended" | "none" | "failed">}
 */
const follows = async (first, after, show) => {
  setRunning(true)
  let reconnected = false
  try {
    const outcome = await follow({
      first,
      after,
      resume: (last, signal) => api.events(state.sessionId, last, signal),
      onEvent: (event) => {
        if (event.id !== undefined) state.lastEventId = event.id
        if (event.data.type === "ask_start") state.following = event.data.ask_id
        if (event.data.type === "ask_end") state.following = undefined
        for (const shown of show(event)) showEvent(shown)
      },
      onStatus: (s) => {
        if (s.kind === "streaming") {
          status("Answering…")
          if (reconnected) void syncApprovals()
        } else {
          reconnected = true
          status(`Connection lost; reconnecting in ${s.delayMs / 1000} s…`, "warn")
        }
      },
      pending: async (last) => {
        try {
          const info = await api.getSession(state.sessionId)
          return info.running_ask !== null || info.last_event_id > (last ?? 0)
        } catch {
          return true
        }
      }
    })
    status(outcome === "ended" ? "" : "No ask is running.")
    return outcome
  } catch (error) {
    status(describe(error), "error")
    return "failed"
  } finally {
    state.following = undefined
    setRunning(false)
    // a card still waiting may be for a call the ask answered when it ended (without a session
    // store an interrupted ask answers its waiting calls; a new prompt answers them as not run)
    if (transcript.approvals.anyWaiting) void syncApprovals()
  }
}

/**
 * Follows the ask a decision started, once the page's current `run` (if any) has ended.
 * @param {string} askId
 */
const followResumed = async (askId) => {
  state.resuming.add(askId)
  try {
    while (state.running) await state.current
    await run((signal) => api.events(state.sessionId, state.lastEventId, signal), state.lastEventId)
  } finally {
    state.resuming.delete(askId)
  }
}

/** @param {string} prompt */
const ask = async (prompt) => {
  const outcome = await run((signal) => api.ask(state.sessionId, prompt, signal), state.lastEventId)
  if (outcome === "failed" && ui.prompt.value === "") ui.prompt.value = prompt
}

/** Shows the conversation and the calls waiting for approval, and follows the ask when one is running. */
const showConversation = async (/** @type {SessionInfo} */ info) => {
  if (info.running_ask === null) {
    const { messages } = await api.history(info.id)
    transcript.clear()
    transcript.approvals.seen(info.last_event_id)
    transcript.replay(messages)
    await syncApprovals()
    ui.conversation.scrollTop = ui.conversation.scrollHeight
    return
  }
  // open the running ask's events first: they start at its `ask_start`, whatever it does meanwhile
  const own = new AbortController()
  const response = api.events(info.id, undefined, own.signal)
  const { messages } = await api.history(info.id)
  transcript.clear()
  transcript.approvals.seen(info.last_event_id)
  const start = opening(messages, (before) => {
    transcript.replay(before)
    void syncApprovals()
  })
  const outcome = await run(
    (signal) => {
      signal.addEventListener("abort", () => own.abort())
      return response
    },
    undefined,
    start.show
  )
  for (const event of start.flush()) showEvent(event)
  if (outcome === "none") await showConversation({ ...info, running_ask: null })
}

// sessions

const openSession = async () => {
  const saved = localStorage.getItem(SESSION_KEY)
  /** @type {SessionInfo | undefined} */
  let info
  if (saved !== null) {
    try {
      info = await api.getSession(saved)
    } catch (error) {
      if (!(error instanceof api.ApiError && error.status === 404)) throw error
    }
  }
  if (info === undefined) {
    info = await api.createSession()
    localStorage.setItem(SESSION_KEY, info.id)
  }
  state.sessionId = info.id
  state.lastEventId = info.last_event_id
  ui.session.textContent = info.id
  await refreshHandles()
  await showConversation(info)
}

const newSession = async () => {
  if (state.running) await api.interrupt(state.sessionId).catch(() => undefined)
  await api.deleteSession(state.sessionId).catch(() => undefined)
  localStorage.removeItem(SESSION_KEY)
  transcript.clear()
  status("")
  await openSession()
}

// signing in

/** @param {Me} me */
const showApp = (me) => {
  ui.login.hidden = true
  ui.app.hidden = false
  ui.model.textContent = `${me.model} (${me.provider})`
  ui.logout.hidden = false
  ui.newSession.hidden = false
  ui.samples.replaceChildren(
    ...me.samples.map((sample) => {
      const button = h(
        "button",
        { type: "button", class: "sample", "data-sample": sample.name, title: sample.description },
        `Use ${sample.file}`
      )
      button.addEventListener("click", async () => {
        try {
          await uploadFile(await api.sample(sample.name), sample.file)
        } catch (error) {
          status(describe(error), "error")
        }
      })
      return button
    })
  )
}

const showLogin = (message = "") => {
  ui.app.hidden = true
  ui.login.hidden = false
  ui.logout.hidden = true
  ui.newSession.hidden = true
  ui.loginError.textContent = message
  ui.loginToken.focus()
}

const boot = async () => {
  try {
    const me = await api.me()
    showApp(me)
    await openSession()
    document.body.dataset.ready = "true"
  } catch (error) {
    if (error instanceof api.ApiError && error.status === 401) showLogin()
    else status(describe(error), "error")
  }
}

// wiring

ui.loginForm.addEventListener("submit", async (event) => {
  event.preventDefault()
  try {
    await api.login(ui.loginToken.value)
    ui.loginToken.value = ""
    await boot()
  } catch (error) {
    showLogin(describe(error))
  }
})

ui.logout.addEventListener("click", async () => {
  await api.logout()
  transcript.clear()
  showLogin()
})

ui.newSession.addEventListener("click", () => void newSession())

ui.fileInput.addEventListener("change", async () => {
  for (const file of ui.fileInput.files ?? []) await uploadFile(file, file.name)
  ui.fileInput.value = ""
})

ui.composer.addEventListener("submit", (event) => {
  event.preventDefault()
  const prompt = ui.prompt.value.trim()
  if (prompt.length === 0 || state.running) return
  ui.prompt.value = ""
  void ask(prompt)
})

ui.prompt.addEventListener("keydown", (event) => {
  if (event.key === "Enter" && !event.shiftKey) {
    event.preventDefault()
    ui.composer.requestSubmit()
  }
})

ui.interrupt.addEventListener("click", async () => {
  ui.interrupt.disabled = true
  status("Interrupting…")
  try {
    await api.interrupt(state.sessionId)
  } catch (error) {
    status(describe(error), "error")
  }
})

void boot()
