/**
 * A statement's text as spans show it (`db.query.text`): every literal — quoted strings (with backslash
 * escapes), hexadecimal and decimal numbers — replaced by `?`, identifiers and keywords kept. The statements
 * ostmesh sends carry API keys looked up by value, e-mail addresses, names and message bodies, often
 * formatted into the text of a batch; none of it belongs in a tracing backend. One pass over the text: a
 * batch of a few kilobytes costs a few microseconds.
 */
const LITERAL = /'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*"|\b0x[0-9a-f]+\b|\b\d+(?:\.\d+)?(?:e[+-]?\d+)?\b/gi;

export function maskSqlLiterals(sql: string): string {
  return sql.replace(LITERAL, "?");
}
