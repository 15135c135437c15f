/**
 * Completes JSON that was cut short (the tool input of a turn that hit `max_tokens`) the way the
 * official Anthropic SDK does in `MessageStream`: a trailing unfinished token (a string, a number
 * that may still grow, a key without its value, a dangling `,` or `:`) is dropped and open brackets
 * are closed. Anything that is not a prefix of JSON (an unknown word, a stray or mismatched
 * bracket) is left for `JSON.parse` to reject, so it fails rather than being repaired.
 *
 * A port of the SDK's vendored partial-json-parser (MIT), kept in step with it by a property test.
 */

type Token =
  | { readonly type: "brace" | "paren" | "separator" | "delimiter" | "name"; readonly value: string }
  | { readonly type: "string"; readonly value: string }
  | { readonly type: "number"; readonly value: string; readonly unterminated: boolean }

const LITERALS = ["true", "false", "null"]
const isWhitespace = (char: string | undefined) => char === " " || char === "\t" || char === "\n" || char === "\r"
const isDigit = (char: string | undefined) => char !== undefined && char >= "0" && char <= "9"
const isLetter = (char: string | undefined) =>
  char !== undefined && ((char >= "a" && char <= "z") || (char >= "A" && char <= "Z"))
const JSON_NUMBER = /^-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][-+]?[0-9]+)?$/
const PUNCTUATION: Record<string, Token> = {
  "{": { type: "brace", value: "{" },
  "}": { type: "brace", value: "}" },
  "[": { type: "paren", value: "[" },
  "]": { type: "paren", value: "]" },
  ":": { type: "separator", value: ":" },
  ",": { type: "delimiter", value: "," }
}

/** The tokens of `input`, or `undefined` when it holds anything but JSON tokens outside strings. */
const tokenize = (input: string): Array<Token> | undefined => {
  const tokens: Array<Token> = []
  let current = 0
  while (current < input.length) {
    let char = input[current]
    const punctuation = PUNCTUATION[char!]
    if (punctuation !== undefined) {
      tokens.push(punctuation)
      current++
    } else if (char === '"') {
      // a quote closes the string only after an even number of backslashes
      const start = current + 1
      let end = start
      let dangling = false
      while (true) {
        end = input.indexOf('"', end)
        if (end === -1) {
          dangling = true
          break
        }
        let backslashes = 0
        for (let i = end - 1; i >= start && input[i] === "\\"; i--) backslashes++
        if (backslashes % 2 === 0) break
        end++
      }
      if (dangling) {
        current = input.length
      } else {
        tokens.push({ type: "string", value: input.slice(start, end) })
        current = end + 1
      }
    } else if (isWhitespace(char)) {
      current++
    } else if (isDigit(char) || char === "-" || char === ".") {
      let value = ""
      if (char === "-") {
        value += char
        char = input[++current]
      }
      while (
        isDigit(char) ||
        char === "." ||
        char === "e" ||
        char === "E" ||
        ((char === "-" || char === "+") && (value.endsWith("e") || value.endsWith("E")))
      ) {
        value += char
        char = input[++current]
      }
      tokens.push({ type: "number", value, unterminated: current === input.length })
    } else if (isLetter(char)) {
      let value = ""
      while (isLetter(char) && current < input.length) {
        value += char
        char = input[++current]
      }
      if (LITERALS.includes(value)) {
        tokens.push({ type: "name", value })
      } else {
        const truncatedLiteral =
          LITERALS.some((literal) => literal !== value && literal.startsWith(value)) &&
          [...input.slice(current)].every(isWhitespace)
        if (!truncatedLiteral) return undefined
      }
    } else {
      return undefined
    }
  }
  return tokens
}

/** Drops the unfinished trailing token. */
const strip = (tokens: Array<Token>): Array<Token> => {
  const open: Array<string> = []
  for (const token of tokens) {
    if (token.type === "brace" || token.type === "paren") {
      if (token.value === "{" || token.value === "[") open.push(token.value)
      else open.pop()
    }
  }
  const innermost = open[open.length - 1]
  let length = tokens.length
  while (length > 0) {
    const last = tokens[length - 1]!
    if (last.type === "separator") {
      length--
      continue
    }
    if (last.type === "number" && (last.unterminated || !JSON_NUMBER.test(last.value))) {
      length--
      continue
    }
    if (last.type === "string") {
      // in an object, a string after `{` or `,` is a key still waiting for its value
      const before = tokens[length - 2]
      if (innermost === "{" && (before?.type === "delimiter" || (before?.type === "brace" && before.value === "{"))) {
        length--
        continue
      }
    }
    if (last.type === "delimiter") length--
    break
  }
  return tokens.slice(0, length)
}

/** Closes the open brackets, or `undefined` when a closer does not match its opener. */
const close = (tokens: Array<Token>): Array<Token> | undefined => {
  const tail: Array<"}" | "]"> = []
  for (const token of tokens) {
    if (token.type !== "brace" && token.type !== "paren") continue
    if (token.value === "{") tail.push("}")
    else if (token.value === "[") tail.push("]")
    else if (tail.pop() !== token.value) return undefined
  }
  for (let i = tail.length - 1; i >= 0; i--) tokens.push(PUNCTUATION[tail[i]!]!)
  return tokens
}

const isScalar = (token: Token | undefined) =>
  token?.type === "string" || token?.type === "number" || token?.type === "name"

const generate = (tokens: ReadonlyArray<Token>): string => {
  let output = ""
  for (let i = 0; i < tokens.length; i++) {
    const token = tokens[i]!
    if (isScalar(tokens[i - 1]) && isScalar(token)) output += " "
    output += token.type === "string" ? `"${token.value}"` : token.value
  }
  return output
}

/**
 * Parses JSON that may be cut short. Throws `SyntaxError` when `input` is not a prefix of JSON.
 */
export const parsePartial = (input: string): unknown => {
  const tokens = tokenize(input)
  const completed = tokens && close(strip(tokens))
  return JSON.parse(completed ? generate(completed) : input)
}
