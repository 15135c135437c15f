/**
 * The "prefix-completion" relation between a tool input parsed from a prefix of its JSON and the
 * input parsed from the whole JSON: what a snapshot may show of an input before it is whole.
 *
 * `isPrefixCompletion(partial, whole)` holds when
 * - both are objects (not arrays), every key of `partial` is a key of `whole`, and each value is
 *   a prefix-completion of `whole`'s value under that key;
 * - both are arrays, `partial` is no longer, and each element is a prefix-completion of the
 *   element of `whole` at its position;
 * - both are strings and `whole` starts with `partial`;
 * - otherwise (numbers, booleans, null) they are the same value.
 */
const isRecord = (value: unknown): value is Readonly<Record<string, unknown>> =>
  typeof value === "object" && value !== null && !Array.isArray(value)

export const isPrefixCompletion = (partial: unknown, whole: unknown): boolean => {
  if (Array.isArray(whole)) {
    return (
      Array.isArray(partial) &&
      partial.length <= whole.length &&
      partial.every((element, i) => isPrefixCompletion(element, whole[i]))
    )
  }
  if (isRecord(whole)) {
    return (
      isRecord(partial) &&
      Object.keys(partial).every((key) => Object.hasOwn(whole, key) && isPrefixCompletion(partial[key], whole[key]))
    )
  }
  if (typeof whole === "string") return typeof partial === "string" && whole.startsWith(partial)
  return Object.is(partial, whole)
}
