/**
 * SQL text helpers: quoting identifiers and literals, and the subquery form every model query
 * runs in.
 * @since 0.1.0
 */

/**
 * Quotes an identifier for DuckDB SQL: `my "odd" name` → `"my ""odd"" name"`.
 * @since 0.1.0
 */
export const quoteIdentifier = (name: string): string => `"${name.replaceAll('"', '""')}"`

/**
 * Quotes a string literal for DuckDB SQL: `it's` → `'it''s'`.
 * @since 0.1.0
 */
export const quoteString = (value: string): string => `'${value.replaceAll("'", "''")}'`

/**
 * The statement without surrounding whitespace and trailing semicolons.
 * @since 0.1.0
 */
export const stripTrailingSemicolons = (sql: string): string => sql.trim().replace(/[;\s]+$/, "")

/**
 * `sql` as a subquery: `SELECT * FROM (\n<sql>\n)`. Every SELECT-form statement (also `FROM`
 * first, `VALUES`, `DESCRIBE`, `SUMMARIZE`, `SHOW`, static `PIVOT`) runs this way, and the result is
 * exactly one `SELECT` statement or a parser error: the line breaks keep a trailing `--` comment
 * from swallowing the closing parenthesis.
 * @since 0.1.0
 */
export const asSubquery = (sql: string): string => `SELECT * FROM (\n${stripTrailingSemicolons(sql)}\n)`
