import { readFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import type { EntityManager } from "@ostmesh/db";

/**
 * Replays SQL that osTicket's own PHP issued (captured in ../shared/osticket/traces), so tests see exactly
 * the rows the staff panel, the client portal and the legacy API write — not rows we imagine.
 */

const TRACES = new URL("../../../../../shared/osticket/traces/", import.meta.url);

/** AUTO_INCREMENT values the API-create capture ran with (ticket 25, thread 25, user 28, entry 31, ...). */
const CREATE_AUTO_INCREMENT: Readonly<Record<string, number>> = {
  ost_file: 9,
  ost_user_email: 28,
  ost_user: 28,
  ost_form_entry: 54,
  ost_ticket: 25,
  ost_thread: 25,
  ost_thread_event: 32,
  ost_thread_entry: 31,
};

const WRITE = /^(INSERT|UPDATE|REPLACE|DELETE)\b/i;

/** The write statements of `traces/api-create-ticket.full.log` (POST /api/tickets.json, new user). */
export async function apiCreateTicketWrites(): Promise<string[]> {
  const log = await readFile(fileURLToPath(new URL("api-create-ticket.full.log", TRACES)), "utf8");
  return log
    .split("\n")
    .filter((line) => line.startsWith("Query: "))
    .map((line) => line.slice("Query: ".length).trim())
    .filter((sql) => WRITE.test(sql));
}

/**
 * Replays the API ticket creation (ticket 25, number 771291, "Trace ticket", user 28 "Trace User", first
 * message entry 31 with an attachment). The scratch database's AUTO_INCREMENTs are set to the capture's, so
 * the literal ids in the statements line up.
 */
export async function replayApiCreateTicket(em: EntityManager): Promise<void> {
  for (const [table, next] of Object.entries(CREATE_AUTO_INCREMENT))
    await em.execute(`ALTER TABLE ${table} AUTO_INCREMENT = ${next}`);
  for (const sql of await apiCreateTicketWrites()) await em.execute(sql);
}

/** One staff/portal action of `traces/ticket-actions.writes.sql`. */
export interface TraceAction {
  readonly name: string;
  readonly statements: readonly string[];
}

/**
 * The actions of `traces/ticket-actions.writes.sql` (reply, note, close, reopen, assign, assignteam,
 * transfer, usermsg, resolve, lock), retargeted from the capture's ticket 1 / thread 1 / user 1 / first
 * message 1 to the ticket replayApiCreateTicket wrote (25 / 25 / 28 / 31).
 */
export async function ticketActions(): Promise<TraceAction[]> {
  const text = await readFile(fileURLToPath(new URL("ticket-actions.writes.sql", TRACES)), "utf8");
  const actions: { name: string; statements: string[] }[] = [];
  for (const raw of text.split("\n")) {
    const line = raw.trim();
    const marker = /^SELECT '---- (\w+) ----'$/.exec(line);
    if (marker?.[1]) {
      actions.push({ name: marker[1], statements: [] });
      continue;
    }
    if (!WRITE.test(line)) continue;
    actions.at(-1)?.statements.push(retarget(line));
  }
  return actions;
}

function retarget(sql: string): string {
  return sql
    .replace(/`thread_id` = 1\b/g, "`thread_id` = 25")
    .replace(/`ticket_id` = 1\b/g, "`ticket_id` = 25")
    .replace(/`ost_thread`\.`id` = 1\b/g, "`ost_thread`.`id` = 25")
    .replace(/`pid` = 1\b/g, "`pid` = 31")
    .replace(/`user_id` = 1\b/g, "`user_id` = 28")
    .replace(/object_type='T', object_id=1,/g, "object_type='T', object_id=25,")
    .replace(/'ticket\.%\.1'/g, "'ticket.%.25'");
}

/** Runs one action's statements the way PHP does: one autocommitted statement at a time. */
export async function replay(em: EntityManager, action: TraceAction): Promise<void> {
  for (const sql of action.statements) await em.execute(sql);
}
