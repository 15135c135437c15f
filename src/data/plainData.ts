/**
 * The check that a value can be put: plain data, with no functions, symbols, cycles or class
 * instances.
 * @since 0.1.0
 */

const needsVisit = (item: unknown): boolean =>
  (typeof item === "object" && item !== null) || typeof item === "function" || typeof item === "symbol"

/** The problem of a value that is not a plain data leaf, array or record, if any. */
const leafProblem = (value: unknown, where: () => string): string | undefined => {
  switch (typeof value) {
    case "function":
      return `it holds a function at ${where()}; put plain data (records, arrays, numbers, strings)`
    case "symbol":
      return `it holds a symbol at ${where()}`
  }
  return undefined
}

/**
 * Checks that a value is plain data: JSON-like values, `Date`s and bigints, with no functions,
 * symbols, cycles or class instances. Returns the problem and where it is, or `undefined`.
 * @since 0.1.0
 */
export const findProblem = (value: unknown): string | undefined => {
  const path: Array<string> = []
  const active = new Set<object>()
  const where = () => (path.length === 0 ? "the top level" : `value${path.join("")}`)
  /** Visits one child; an object joins `active` only while the walk is inside it. */
  const child = (parent: object, step: string, item: unknown, entered: boolean): string | undefined => {
    if (!entered) active.add(parent)
    path.push(step)
    const problem = visit(item)
    path.pop()
    return problem
  }
  const visit = (v: unknown): string | undefined => {
    if (typeof v !== "object" || v === null) return leafProblem(v, where)
    if (v instanceof Date) return undefined
    if (active.has(v)) return `it refers to itself at ${where()} (a cycle); put a copy without the cycle`
    const proto = Object.getPrototypeOf(v)
    const isArray = Array.isArray(v)
    if (!isArray && proto !== Object.prototype && proto !== null) {
      return `it holds a ${proto?.constructor?.name ?? "class"} instance at ${where()}; convert it to plain data first`
    }
    let entered = false
    let problem: string | undefined
    if (isArray) {
      const array = v as ReadonlyArray<unknown>
      for (let i = 0; i < array.length && problem === undefined; i++) {
        if (!needsVisit(array[i])) continue
        problem = child(v, `[${i}]`, array[i], entered)
        entered = true
      }
    } else {
      const record = v as Record<string, unknown>
      for (const key in record) {
        if (!needsVisit(record[key]) || !Object.hasOwn(record, key)) continue
        problem = child(v, `.${key}`, record[key], entered)
        entered = true
        if (problem !== undefined) break
      }
    }
    if (entered) active.delete(v)
    return problem
  }
  return visit(value)
}
