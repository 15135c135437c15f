/**
 * What builds each provider of the Promise API, kept out of its public types: `anthropic()`,
 * `openai()` and `mock()` register the layer of the description they return, and `createAgent`
 * looks it up.
 *
 * @internal
 */
import type { Layer } from "effect"
import type * as Provider from "../provider/Provider.js"

const layers = new WeakMap<object, Layer.Layer<Provider.Provider, unknown>>()

/**
 * Registers the layer that builds `provider`; returns `provider`.
 * @internal
 */
export const register = <P extends object>(provider: P, layer: Layer.Layer<Provider.Provider, unknown>): P => {
  layers.set(provider, layer)
  return provider
}

/**
 * The layer of a provider description, `undefined` for anything else.
 * @internal
 */
export const layerOf = (provider: unknown): Layer.Layer<Provider.Provider, unknown> | undefined =>
  typeof provider === "object" && provider !== null ? layers.get(provider) : undefined
