export * from "./server.js"
