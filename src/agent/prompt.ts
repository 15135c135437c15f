/**
 * A prompt as the user message's blocks: a string is one text block; a list of blocks (text,
 * images, documents) is checked block by block with its `Message` Schema, so a bad one is an
 * `InvalidOptions` naming it (`prompt[1]`) before anything is added to the session.
 *
 * @internal
 */
import { Exit, Schema } from "effect"
import { InvalidOptions } from "../core/HarnessError.js"
import * as Message from "../core/Message.js"
import { describe } from "../core/options.js"

/** The blocks a prompt may carry, each with the Schema that checks it. */
const promptBlocks: Readonly<Record<string, (block: unknown) => Exit.Exit<Message.ContentBlock, Schema.SchemaError>>> =
  {
    text: Schema.decodeUnknownExit(Message.TextBlock),
    image: Schema.decodeUnknownExit(Message.ImageBlock),
    document: Schema.decodeUnknownExit(Message.DocumentBlock)
  }

const hasText = (text: string): boolean => /\S/.test(text)

const emptyPrompt = (what: string) =>
  new InvalidOptions({
    option: "prompt",
    message: `The prompt is ${what}; ask with some text (or an image or document).`
  })

/** One block of a prompt list, decoded, or the error naming it. */
const blockOf = (block: unknown, index: number): Message.ContentBlock | InvalidOptions => {
  const option = `prompt[${index}]`
  const type = typeof block === "object" && block !== null ? (block as { type?: unknown }).type : undefined
  const decode = typeof type === "string" ? promptBlocks[type] : undefined
  if (decode === undefined) {
    return new InvalidOptions({
      option,
      message: `${option} is ${type === undefined ? describe(block) : `a ${describe(type)} block`}; a prompt takes text, image and document blocks (Message.text, Message.image, Message.pdf).`
    })
  }
  const exit = decode(block)
  if (Exit.isSuccess(exit)) return exit.value
  const error = exit.cause.reasons.find((reason) => reason._tag === "Fail")
  const why = error?._tag === "Fail" ? String(error.error.message) : "it does not decode"
  return new InvalidOptions({ option, message: `${option} (a ${type} block) is not valid: ${why}` })
}

/**
 * The prompt as the user message's blocks, or why it cannot be one: an empty or whitespace-only
 * text (the API rejects it), an empty list, or a block that is not a valid text, image or
 * document block.
 * @internal
 */
export const resolvePrompt = (prompt: unknown): ReadonlyArray<Message.ContentBlock> | InvalidOptions => {
  if (typeof prompt === "string")
    return hasText(prompt) ? [Message.text(prompt)] : emptyPrompt("empty or whitespace only")
  if (!Array.isArray(prompt)) return emptyPrompt(`${describe(prompt)}, not a string or a list of content blocks`)
  const blocks: Array<Message.ContentBlock> = []
  for (let i = 0; i < prompt.length; i++) {
    const block = blockOf(prompt[i], i)
    if (block instanceof InvalidOptions) return block
    blocks.push(block)
  }
  const content = blocks.some((block) => block.type !== "text" || hasText((block as Message.TextBlock).text))
  return content ? blocks : emptyPrompt(blocks.length === 0 ? "an empty list" : "text that is empty or whitespace only")
}
