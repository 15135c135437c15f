/**
 * data-harness: an Effect-native harness for LLM agents that work on data.
 * @since 0.1.0
 */
export * as Agent from "./agent/Agent.js"
export * as Session from "./agent/Session.js"
export * as HarnessError from "./core/HarnessError.js"
export * as Message from "./core/Message.js"
export * as NormalizedResponse from "./core/NormalizedResponse.js"
export * as RunResult from "./core/RunResult.js"
export * as StreamEvent from "./core/StreamEvent.js"
export * as Usage from "./core/Usage.js"
export * as Data from "./data/Data.js"
export * as Anthropic from "./provider/anthropic/Anthropic.js"
export * as Mock from "./provider/Mock.js"
export * as OpenAI from "./provider/openai/OpenAI.js"
export * as Provider from "./provider/Provider.js"
export * as SessionStore from "./store/SessionStore.js"
export * as Accumulate from "./stream/Accumulate.js"
export * as DataTools from "./tools/DataTools.js"
export * as JavaScript from "./tools/JavaScript.js"
export * as Sql from "./tools/Sql.js"
export * as Tool from "./tools/Tool.js"
export * as Variables from "./tools/Variables.js"
