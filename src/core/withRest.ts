/**
 * A struct schema that keeps every field it does not name, as it arrived: the shape of every
 * content block (`Message.ts`, `media.ts`), so a block from the API goes back to it unchanged.
 * @internal
 */
import { Schema } from "effect"

const Rest = [Schema.Record(Schema.String, Schema.Unknown)] as const

/** `fields`, checked, plus any other fields, kept as they are. */
export const withRest = <const Fields extends Schema.Struct.Fields>(fields: Fields) =>
  Schema.StructWithRest(Schema.Struct(fields), Rest)
