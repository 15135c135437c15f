/**
 * The scripted model of the cluster tests: its answer is a function of the conversation, so any
 * session on any runner gets a deterministic answer that says what it saw.
 *
 * | prompt | the model |
 * | --- | --- |
 * | `stall ...` | streams `partial ` and then sends nothing more (an ask in flight, for interrupts and kills) |
 * | `tool then stall ...` | calls `list_variables`, then (after its result) streams `partial ` and stalls |
 * | `sql: <query>` | runs the query with the `sql` tool, then answers with the tool's result |
 * | `email <name>` | calls `send_email` (id `toolu_<name>`, to `<name>@example.com`), then answers `Result: <the tool's result>` (a name starting `stall` streams `partial ` and stalls instead) |
 * | anything else | `answer <n> on <runner>: <prompt>`, `n` the number of user prompts so far |
 */
import { Message, Mock } from "../../src/index.js"

/** The text prompts of a conversation's user messages. */
const prompts = (messages: ReadonlyArray<Message.Message>): ReadonlyArray<string> =>
  messages.flatMap((message) =>
    message.role === "user"
      ? message.content.flatMap((block) => {
          const text = block.type === "text" ? Message.textOf([block]) : ""
          return text.length > 0 && !text.startsWith("<system-reminder>") ? [text] : []
        })
      : []
  )

/** The scripted turn for `runner` (a name it puts in its answers). */
export const brain = (runner: string): Mock.Turn =>
  Mock.reply((context) => {
    const asked = prompts(context.messages)
    const prompt = asked[asked.length - 1] ?? ""
    const results = context.lastToolResults
    if (prompt.startsWith("stall")) return Mock.stall("partial ")
    if (prompt.startsWith("tool then stall")) {
      return results.length === 0 ? Mock.toolCall("list_variables") : Mock.stall("partial ")
    }
    if (prompt.startsWith("sql:")) {
      if (results.length === 0) return Mock.toolCall("sql", { query: prompt.slice("sql:".length).trim() })
      const content = results[0]!.content
      return Mock.text(`result: ${typeof content === "string" ? content : JSON.stringify(content)}`)
    }
    if (prompt.startsWith("email ")) {
      const name = prompt.slice("email ".length).trim()
      if (results.length === 0) return Mock.toolCall("send_email", emailTo(name), `toolu_${name}`)
      return name.startsWith("stall") ? Mock.stall("partial ") : Mock.text(`Result: ${String(results[0]!.content)}`)
    }
    return Mock.text(`answer ${asked.length} on ${runner}: ${prompt}`)
  })

/** The input of the email the model sends for `email <name>`. */
export const emailTo = (name: string) => ({ to: `${name}@example.com`, body: "Q3 numbers attached" })

/** A mock provider layer answering with {@link brain}. */
export const layer = (runner: string) => Mock.layer({ turns: [brain(runner)] })
