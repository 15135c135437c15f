/**
 * What the OpenAI-compatible provider knows about the servers that speak the Chat Completions
 * protocol: where they listen, whether they need a key, and which request fields they take.
 *
 * A preset is data, not code: `OpenAI.layer({ preset: "ollama", model: "llama3.2" })` picks one
 * by name, `OpenAI.layer({ preset: { ...OpenAI.presets.vllm, baseURL: "http://gpu:8000/v1" } })`
 * adjusts one. Without a preset the provider detects the cloud hosts from the base URL, and treats
 * anything else as `compatible` (a server of unknown make).
 *
 * | preset | base URL | key | max tokens as | thinking (`Request.thinking`) | `topK` |
 * | --- | --- | --- | --- | --- | --- |
 * | `openai` | `https://api.openai.com/v1` | required (`OPENAI_API_KEY`) | `max_completion_tokens` | `reasoning_effort` | no |
 * | `ollama` | `http://localhost:11434/v1` | none | `max_tokens` | `reasoning_effort` | no |
 * | `vllm` | `http://localhost:8000/v1` | optional (`--api-key`) | `max_tokens` | `reasoning_effort` | yes |
 * | `lmstudio` | `http://localhost:1234/v1` | none | `max_tokens` | `reasoning_effort` | yes |
 * | `llamacpp` | `http://localhost:8080/v1` | optional (`--api-key`) | `max_tokens` | not settable | yes |
 * | `openrouter` | `https://openrouter.ai/api/v1` | required (`OPENROUTER_API_KEY`) | `max_tokens` | `reasoning: { max_tokens }` | yes |
 * | `groq` | `https://api.groq.com/openai/v1` | required (`GROQ_API_KEY`) | `max_completion_tokens` | `reasoning_effort` | no |
 * | `together` | `https://api.together.xyz/v1` | required (`TOGETHER_API_KEY`) | `max_tokens` | `reasoning_effort` | yes |
 * | `deepseek` | `https://api.deepseek.com/v1` | required (`DEEPSEEK_API_KEY`) | `max_tokens` | by model (`deepseek-reasoner`) | no |
 * | `compatible` | (yours) | optional | `max_tokens` | `reasoning_effort` | yes |
 *
 * @example
 * ```ts
 * import { OpenAI } from "data-harness"
 * const local = OpenAI.layer({ preset: "ollama", model: "qwen3:8b" })
 * const gpu = OpenAI.layer({ preset: "vllm", baseURL: "http://gpu-box:8000/v1", model: "Qwen/Qwen3-8B" })
 * ```
 * @since 0.2.0
 */

/**
 * How a server takes a thinking request (`Request.thinking`):
 * - `reasoning_effort`: `{ type: "enabled", budgetTokens }` becomes `reasoning_effort` `low`
 *   (below 4,096), `medium` (below 16,384) or `high`; `adaptive` and `disabled` send nothing (the
 *   model's default).
 * - `openrouter`: `reasoning: { max_tokens }`, `reasoning: { enabled: true }` (adaptive) or
 *   `reasoning: { enabled: false }`.
 * - `none`: the server has no such field; `enabled` fails with `InvalidOptions` before any
 *   request (choose a reasoning model instead), `adaptive` and `disabled` send nothing.
 * @since 0.2.0
 */
export type ThinkingStyle = "reasoning_effort" | "openrouter" | "none"

/**
 * What one server (or family of servers) takes and sends.
 * @since 0.2.0
 */
export interface Preset {
  /** The provider's name in `Provider.info` and in error messages, e.g. `"ollama"`. */
  readonly name: string
  /** How error messages name the server, e.g. `"Ollama"`. */
  readonly label: string
  /** The Chat Completions base URL (the path before `/chat/completions`). */
  readonly baseURL: string
  /**
   * Whether the server needs an API key: `required` (a missing key is an `Authentication`
   * failure the server reports), `optional` (sent when given), `none` (never sent).
   */
  readonly apiKey: "required" | "optional" | "none"
  /** The environment variable `OpenAI.layer` reads the key from when none is given. */
  readonly apiKeyEnv?: string | undefined
  /** The request field of the output limit. */
  readonly maxTokensField: "max_tokens" | "max_completion_tokens"
  /** Whether to ask for a usage chunk at the end of a stream (`stream_options.include_usage`). */
  readonly streamUsage: boolean
  /** How a thinking request is sent. */
  readonly thinking: ThinkingStyle
  /** Whether the server takes `top_k` (`Request.topK`); without, `topK` fails with `InvalidOptions`. */
  readonly topK: boolean
  /**
   * How thinking blocks of earlier assistant turns are sent back: `drop` (not sent; most servers
   * ignore or reject reasoning in the input) or `reasoning_content` (DeepSeek: the thinking text of
   * the assistant message, which its thinking mode with tools reads back).
   */
  readonly reasoningInHistory: "drop" | "reasoning_content"
  /** Headers sent with every request. */
  readonly headers?: Readonly<Record<string, string>> | undefined
  /** What else a user should know, for the docs. */
  readonly notes: string
}

const preset = (fields: Preset): Preset => fields

/**
 * The built-in presets, by name.
 * @since 0.2.0
 */
export const presets = {
  openai: preset({
    name: "openai",
    label: "OpenAI",
    baseURL: "https://api.openai.com/v1",
    apiKey: "required",
    apiKeyEnv: "OPENAI_API_KEY",
    maxTokensField: "max_completion_tokens",
    streamUsage: true,
    thinking: "reasoning_effort",
    topK: false,
    reasoningInHistory: "drop",
    notes:
      "Reasoning models (o-series, gpt-5) keep their reasoning on the server: the Chat Completions stream carries no reasoning text, only `reasoning_tokens` in the usage. Cached prompt tokens are reported as cache reads."
  }),
  ollama: preset({
    name: "ollama",
    label: "Ollama",
    baseURL: "http://localhost:11434/v1",
    apiKey: "none",
    maxTokensField: "max_tokens",
    streamUsage: true,
    thinking: "reasoning_effort",
    topK: false,
    reasoningInHistory: "drop",
    notes:
      "No key. Usage arrives only when `stream_options.include_usage` is sent (it is). Thinking models stream `reasoning` (0.12+). Versions before 0.4 streamed tool calls as text; use a model with tool support."
  }),
  vllm: preset({
    name: "vllm",
    label: "vLLM",
    baseURL: "http://localhost:8000/v1",
    apiKey: "optional",
    apiKeyEnv: "VLLM_API_KEY",
    maxTokensField: "max_tokens",
    streamUsage: true,
    thinking: "reasoning_effort",
    topK: true,
    reasoningInHistory: "drop",
    notes:
      "Tool calls need the server started with `--enable-auto-tool-choice --tool-call-parser <parser>`; reasoning text needs `--reasoning-parser` (it arrives as `reasoning_content` or `reasoning`). A matched stop string comes back in `stop_reason` and becomes `stop_sequence`."
  }),
  lmstudio: preset({
    name: "lmstudio",
    label: "LM Studio",
    baseURL: "http://localhost:1234/v1",
    apiKey: "none",
    maxTokensField: "max_tokens",
    streamUsage: true,
    thinking: "reasoning_effort",
    topK: true,
    reasoningInHistory: "drop",
    notes: "No key. Tool calls work with models LM Studio marks as tool-capable."
  }),
  llamacpp: preset({
    name: "llamacpp",
    label: "llama.cpp server",
    baseURL: "http://localhost:8080/v1",
    apiKey: "optional",
    apiKeyEnv: "LLAMA_API_KEY",
    maxTokensField: "max_tokens",
    streamUsage: true,
    thinking: "none",
    topK: true,
    reasoningInHistory: "drop",
    notes:
      "`llama-server --jinja` for tool calls. Reasoning is set on the server (`--reasoning-budget`, `--reasoning-format`) and streams as `reasoning_content`."
  }),
  openrouter: preset({
    name: "openrouter",
    label: "OpenRouter",
    baseURL: "https://openrouter.ai/api/v1",
    apiKey: "required",
    apiKeyEnv: "OPENROUTER_API_KEY",
    maxTokensField: "max_tokens",
    streamUsage: true,
    thinking: "openrouter",
    topK: true,
    reasoningInHistory: "drop",
    notes:
      'Reasoning streams as `reasoning` and `reasoning_details` (joined once, not twice); a signed detail becomes the thinking block\'s signature and an encrypted one a `redacted_thinking` block. App attribution: `headers: { "HTTP-Referer": url, "X-Title": name }`. Usage carries `cost` (reachable with `raw: true`).'
  }),
  groq: preset({
    name: "groq",
    label: "Groq",
    baseURL: "https://api.groq.com/openai/v1",
    apiKey: "required",
    apiKeyEnv: "GROQ_API_KEY",
    maxTokensField: "max_completion_tokens",
    streamUsage: true,
    thinking: "reasoning_effort",
    topK: false,
    reasoningInHistory: "drop",
    notes:
      "Reasoning models stream `reasoning`. A tool call the model formed badly ends the stream with an in-stream `tool_use_failed` error (an `InvalidRequest`)."
  }),
  together: preset({
    name: "together",
    label: "Together AI",
    baseURL: "https://api.together.xyz/v1",
    apiKey: "required",
    apiKeyEnv: "TOGETHER_API_KEY",
    maxTokensField: "max_tokens",
    streamUsage: true,
    thinking: "reasoning_effort",
    topK: true,
    reasoningInHistory: "drop",
    notes: "Reasoning models stream `reasoning`."
  }),
  deepseek: preset({
    name: "deepseek",
    label: "DeepSeek",
    baseURL: "https://api.deepseek.com/v1",
    apiKey: "required",
    apiKeyEnv: "DEEPSEEK_API_KEY",
    maxTokensField: "max_tokens",
    streamUsage: true,
    thinking: "none",
    topK: false,
    reasoningInHistory: "reasoning_content",
    notes:
      "Thinking is chosen by model (`deepseek-reasoner`); it streams `reasoning_content`, which is sent back on the assistant turns of a tool loop. Cache hits (`prompt_cache_hit_tokens`) are reported as cache reads."
  }),
  compatible: preset({
    name: "openai-compatible",
    label: "The OpenAI-compatible server",
    baseURL: "http://localhost:8000/v1",
    apiKey: "optional",
    maxTokensField: "max_tokens",
    streamUsage: true,
    thinking: "reasoning_effort",
    topK: true,
    reasoningInHistory: "drop",
    notes: "Any other server of the protocol: fields are sent as OpenAI names them; the server decides what it honours."
  })
} as const satisfies Record<string, Preset>

/**
 * The name of a built-in preset.
 * @since 0.2.0
 */
export type PresetName = keyof typeof presets

const byHost: ReadonlyArray<readonly [string, PresetName]> = [
  ["api.openai.com", "openai"],
  ["openrouter.ai", "openrouter"],
  ["api.groq.com", "groq"],
  ["api.together.xyz", "together"],
  ["api.together.ai", "together"],
  ["api.deepseek.com", "deepseek"]
]

/**
 * The preset a base URL belongs to: the cloud hosts by name, Ollama by its port 11434, anything
 * else `compatible`; no base URL is OpenAI.
 *
 * @example
 * ```ts
 * import { OpenAI } from "data-harness"
 * OpenAI.presetFor("https://openrouter.ai/api/v1").name // "openrouter"
 * ```
 * @since 0.2.0
 */
export const presetFor = (baseURL: string | undefined): Preset => {
  if (baseURL === undefined) return presets.openai
  let url: URL
  try {
    url = new URL(baseURL)
  } catch {
    return presets.compatible
  }
  for (const [host, name] of byHost) if (url.hostname === host) return presets[name]
  if (url.port === "11434") return presets.ollama
  return presets.compatible
}
