/**
 * The Standard Schema types (https://standardschema.dev), vendored as the spec asks
 * (`@standard-schema/spec` 1.1.0, with the Standard JSON Schema extension), in a module of their
 * own so that the public types that mention them need nothing else.
 *
 * @internal
 */

/**
 * A Standard Schema (https://standardschema.dev): what Zod, Valibot, ArkType and Effect
 * (`Schema.toStandardSchemaV1`) schemas implement. `jsonSchema` is the Standard JSON Schema
 * extension, where the library has it.
 * @since 0.2.0
 */
export interface StandardSchemaV1<Input = unknown, Output = Input> {
  readonly "~standard": {
    readonly version: 1
    readonly vendor: string
    readonly validate: (value: unknown) => StandardResult<Output> | Promise<StandardResult<Output>>
    readonly types?: { readonly input: Input; readonly output: Output } | undefined
    readonly jsonSchema?:
      | { readonly input: (options: { readonly target: string }) => Record<string, unknown> }
      | undefined
  }
}

/**
 * The result of a Standard Schema's `validate`.
 * @since 0.2.0
 */
export type StandardResult<Output> =
  | { readonly value: Output; readonly issues?: undefined }
  | {
      readonly issues: ReadonlyArray<{
        readonly message: string
        readonly path?: ReadonlyArray<PropertyKey | { readonly key: PropertyKey }> | undefined
      }>
    }

/**
 * A JSON Schema object.
 * @since 0.2.0
 */
export type JsonSchema = Readonly<Record<string, unknown>>

/**
 * The output type of a Standard Schema.
 * @since 0.2.0
 */
export type InferOutput<S> = S extends StandardSchemaV1<infer _I, infer O> ? O : never

/** Whether `value` is a Standard Schema. */
export const isStandardSchema = (value: unknown): value is StandardSchemaV1 => {
  if ((typeof value !== "object" && typeof value !== "function") || value === null) return false
  const props = (value as { readonly "~standard"?: unknown })["~standard"]
  return typeof props === "object" && props !== null && typeof (props as { validate?: unknown }).validate === "function"
}
