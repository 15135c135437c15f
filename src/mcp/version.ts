/**
 * The library version MCP peers see (kept in step with package.json).
 * @internal
 */
export const VERSION = "0.1.0"
