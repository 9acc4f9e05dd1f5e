/**
 * Replays SQL that osTicket's own PHP issued (FACTS traces) into a scratch database, so tests can check that
 * tickets osTicket wrote read correctly through ostmesh.
 */
import { readFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import type { TicketHarness } from "./harness.ts";

const TRACES = fileURLToPath(new URL("../../../../../shared/osticket/traces/", import.meta.url));

/** Statements of a general-query-log capture (`Query: ...` entries, possibly spanning lines). */
function logStatements(log: string): string[] {
  const statements: string[] = [];
  let current: string[] | undefined;
  for (const line of log.split("\n")) {
    const starts =
      /^(Query|Execute|Quit|Connect|Init DB|Prepare|Close stmt):/.test(line) ||
      /^\d{6}\s/.test(line) ||
      line.startsWith("--");
    if (starts) {
      if (current) statements.push(current.join("\n"));
      current = line.startsWith("Query: ") ? [line.slice("Query: ".length)] : undefined;
    } else if (current) current.push(line);
  }
  if (current) statements.push(current.join("\n"));
  return statements.map((s) => s.trim());
}

const isWrite = (sql: string) => /^(INSERT|UPDATE|REPLACE|DELETE)\b/i.test(sql);

/**
 * The API create of traces/api-create-ticket.full.log: every write osTicket issued, in order, with the
 * AUTO_INCREMENT counters set to the captured ids (the statements carry the ids PHP read back), so the rows
 * are those of traces/api-create-ticket.rows.txt (ticket 25, number 771291, user 28, entry 31, file 9).
 */
export async function replayApiCreate(h: TicketHarness): Promise<void> {
  const counters: Record<string, number> = {
    ost_file: 9,
    ost_user_email: 28,
    ost_user: 28,
    ost_form_entry: 54,
    ost_ticket: 25,
    ost_thread: 25,
    ost_thread_event: 32,
    ost_thread_entry: 31,
    ost_attachment: 18,
  };
  for (const [table, next] of Object.entries(counters))
    await h.exec(`ALTER TABLE \`${table}\` AUTO_INCREMENT = ${next}`);
  const log = await readFile(`${TRACES}api-create-ticket.full.log`, "utf8");
  for (const sql of logStatements(log).filter(isWrite)) await h.exec(sql);
}

/**
 * The ticket the captured actions of traces/ticket-actions.writes.sql start from (ticket 1 "832810 Testing
 * API" of user 1, its thread 1 and first message 1; the next entry id is 5), then those writes in order:
 * reply, note, close, reopen, claim, team assignment, transfer, user message, resolve with a comment, lock.
 */
export async function replayTicketActions(h: TicketHarness): Promise<void> {
  const at = "2026-11-26 07:00:00";
  await h.exec(
    "INSERT INTO ost_user_email (id, user_id, flags, address) VALUES (1, 1, 0, 'angry@example.com')",
  );
  await h.exec(
    `INSERT INTO ost_user (id, org_id, default_email_id, status, name, created, updated) VALUES (1, 0, 1, 0, 'Angry User', '${at}', '${at}')`,
  );
  await h.exec(
    "INSERT INTO ost_ticket (ticket_id, number, user_id, status_id, dept_id, sla_id, ip_address, source, lastupdate, created, updated)" +
      ` VALUES (1, '832810', 1, 1, 1, 1, '127.0.0.1', 'API', '${at}', '${at}', '${at}')`,
  );
  await h.exec(
    `INSERT INTO ost_thread (id, object_id, object_type, lastmessage, created) VALUES (1, 1, 'T', '${at}', '${at}')`,
  );
  await h.exec(
    "INSERT INTO ost_thread_entry (id, pid, thread_id, staff_id, user_id, type, flags, poster, source, title, body, format, ip_address, created)" +
      ` VALUES (1, 0, 1, 0, 1, 'M', 1, 'Angry User', 'API', 'Testing API', 'It does not work', 'text', '127.0.0.1', '${at}')`,
  );
  await h.exec("ALTER TABLE ost_thread_entry AUTO_INCREMENT = 5");
  const entry = await h.exec(
    `INSERT INTO ost_form_entry (form_id, object_id, object_type, sort, created, updated) VALUES (2, 1, 'T', 1, '${at}', '${at}')`,
  );
  await h.exec(
    "INSERT INTO ost_form_entry_values (entry_id, field_id, value, value_id) VALUES (?, 20, 'Testing API', NULL), (?, 22, 'Normal', 2)",
    [entry.insertId, entry.insertId],
  );
  await h.exec(
    "REPLACE INTO ost__search SET object_type='T', object_id=1, content='Testing API', title='832810 Testing API'",
  );
  const sql = await readFile(`${TRACES}ticket-actions.writes.sql`, "utf8");
  for (const line of sql.split("\n").map((l) => l.trim())) {
    if (isWrite(line)) await h.exec(line);
  }
}
