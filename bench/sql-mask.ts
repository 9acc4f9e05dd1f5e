/**
 * What masking SQL literals for spans (`db.query.text`) costs per statement: ostmesh's one-pass mask
 * (`maskSqlLiterals`) against the mysql2 instrumentation's default, two replacements over the text
 * (numbers, then quoted strings), on statements shaped like the ones the services send.
 *
 *   npx node bench/sql-mask.ts
 */
import { maskSqlLiterals } from "@ostmesh/kit/telemetry/sql-mask.ts";

/** The instrumentation's default masking hook, as it replaces literals (for comparison only). */
function twoPassMask(sql: string): string {
  return sql.replace(/\b\d+\b/g, "?").replace(/(["'])(?:(?=(\\?))\2.)*?\1/g, "?");
}

function createBatch(bodyBytes: number): string {
  const body = 'The printer on floor 3 is out of toner again; it\\\'s the \\"big\\" one. '.repeat(
    Math.ceil(bodyBytes / 70),
  );
  return [
    "INSERT INTO ost_ticket (number, user_id, status_id, dept_id, sla_id, topic_id, ip_address, source, created) VALUES ('313285', 20002, 1, 1, 1, 0, '127.0.0.1', 'API', NOW())",
    "INSERT INTO ost_form_entry_values (entry_id, field_id, value, value_id) VALUES (LAST_INSERT_ID(), 20, 'Printer out of toner', NULL), (LAST_INSERT_ID(), 22, 'Normal', 2)",
    `INSERT INTO ost_thread_entry (pid, thread_id, user_id, type, flags, poster, source, title, body, format, ip_address, created) VALUES (0, 108625, 20002, 'M', 1, 'Gl User', 'API', 'Printer out of toner', '${body.slice(0, bodyBytes)}', 'text', '127.0.0.1', NOW())`,
    `REPLACE INTO ost__search (object_type, object_id, title, content) VALUES ('H', 258814, 'Printer out of toner', '${body.slice(0, bodyBytes)}')`,
  ].join(";\n");
}

const cases: [string, string][] = [
  [
    "API key lookup",
    "SELECT id, isactive FROM ost_api_key WHERE apikey = 'C8F2A61D0B6E4E0C9A' AND ipaddr = '10.0.0.7'",
  ],
  ["create batch, 1 KB message", createBatch(1_000)],
  ["create batch, 20 KB message", createBatch(20_000)],
  [
    "file chunk, 256 KB as hex",
    `INSERT INTO ost_file_chunk (file_id, chunk_id, filedata) VALUES (7, 0, X'${"ab".repeat(256 * 1024)}')`,
  ],
];

function perCall(mask: (sql: string) => string, sql: string): number {
  for (let i = 0; i < 50; i++) mask(sql);
  const started = performance.now();
  let calls = 0;
  while (performance.now() - started < 400) {
    mask(sql);
    calls++;
  }
  return ((performance.now() - started) / calls) * 1000;
}

console.log("statement                          length   one pass   two passes (µs per statement)");
for (const [name, sql] of cases) {
  const masked = maskSqlLiterals(sql);
  if (/toner|C8F2|abab|10\.0\.0\.7|313285/.test(masked))
    throw new Error(`${name}: a literal shows: ${masked}`);
  const one = perCall(maskSqlLiterals, sql);
  const two = perCall(twoPassMask, sql);
  console.log(
    `${name.padEnd(32)} ${String(sql.length).padStart(8)} ${one.toFixed(1).padStart(10)} ${two.toFixed(1).padStart(12)}`,
  );
}
