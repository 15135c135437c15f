/**
 * data-harness: an Effect-native harness for LLM agents that work on data.
 * @since 0.1.0
 */
export * as Agent from "./Agent.js"
export * as Data from "./Data.js"
export * as HarnessError from "./HarnessError.js"
export * as Message from "./Message.js"
export * as NormalizedResponse from "./NormalizedResponse.js"
export * as Provider from "./Provider.js"
export * as Anthropic from "./providers/Anthropic.js"
export * as Mock from "./providers/Mock.js"
export * as RunResult from "./RunResult.js"
export * as Session from "./Session.js"
export * as StreamEvent from "./StreamEvent.js"
export * as Tool from "./Tool.js"
export * as DataTools from "./tools/Data.js"
export * as JavaScript from "./tools/JavaScript.js"
export * as Sql from "./tools/Sql.js"
export * as Variables from "./tools/Variables.js"
export * as Usage from "./Usage.js"
