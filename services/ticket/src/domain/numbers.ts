import { int, str } from "./rows.ts";
import type { BatchRead, Sql } from "./sql.ts";

/** Unescaped `#` groups of a number format (`\#` is a literal hash). */
const HASH_GROUPS = /(?<!\\)#+/g;

/** Number of digit slots in a format (Sequence::getDigitCount). */
export function digitCount(format: string): number {
  return (format.match(/(?<!\\)#/g) ?? []).length;
}

/**
 * Places `number` into `format` (Sequence::format): left-padded with `padding` to the total `#` count, the
 * `#` groups filled left to right, surplus digits appended after the last group, `\#` printed as `#`.
 */
export function formatTicketNumber(format: string, number: number | string, padding = "0"): string {
  const groups = [...format.matchAll(HASH_GROUPS)];
  const total = groups.reduce((n, g) => n + g[0].length, 0);
  const digits = String(number);
  const padded =
    digits.length >= total || !padding ? digits : padding.charAt(0).repeat(total - digits.length) + digits;
  let output = "";
  let start = 0;
  let used = 0;
  for (const g of groups) {
    const at = g.index ?? 0;
    output += format.slice(start, at).replaceAll("\\#", "#");
    output += padded.slice(used, used + g[0].length);
    start = at + g[0].length;
    used += g[0].length;
  }
  if (padded.length > used) output += padded.slice(used);
  output += format.slice(start).replaceAll("\\#", "#");
  return output;
}

/** Misc::randNumber: `digits` digits, the first one 1-9. */
export function randomNumber(digits: number, random: () => number = Math.random): string {
  let out = String(1 + Math.floor(random() * 9));
  for (let i = 1; i < digits; i++) out += String(Math.floor(random() * 10));
  return out;
}

export interface NumberingScheme {
  readonly format: string;
  /** ost_sequence.id; 0 or unknown = random numbers. */
  readonly sequenceId: number;
}

/**
 * Advances a counter sequence inside the caller's transaction (SELECT … FOR UPDATE, then next += increment)
 * and returns the value before the increment with the sequence's padding; undefined when the sequence does
 * not exist.
 */
async function nextFromSequence(
  tx: Sql,
  sequenceId: number,
): Promise<{ value: string; padding: string } | undefined> {
  const row = await tx.first(
    "SELECT `next`, `increment`, padding FROM ost_sequence WHERE id = ? FOR UPDATE",
    [sequenceId],
  );
  if (!row) return undefined;
  await tx.run("UPDATE ost_sequence SET `next` = `next` + `increment`, updated = NOW() WHERE id = ?", [
    sequenceId,
  ]);
  return { value: str(row, "next"), padding: str(row, "padding") || "0" };
}

/**
 * A ticket number no ticket has yet (Sequence::next with Ticket::isTicketNumberUnique): random numbers
 * (at least 6 digits) or a counter sequence, formatted, re-drawn until `SELECT COUNT(*)` finds it unused.
 * Like osTicket the check is not atomic with the INSERT (ost_ticket.number has no unique index).
 */
export async function nextTicketNumber(
  tx: Sql,
  scheme: NumberingScheme,
  random: () => number = Math.random,
  drawn?: DrawnNumber,
): Promise<string> {
  if (drawn?.free && !scheme.sequenceId && drawn.format === scheme.format) return drawn.number;
  for (let attempt = 0; attempt < 1000; attempt++) {
    const fromSequence = scheme.sequenceId ? await nextFromSequence(tx, scheme.sequenceId) : undefined;
    const candidate = fromSequence
      ? formatTicketNumber(scheme.format, fromSequence.value, fromSequence.padding)
      : randomTicketNumber(scheme.format, random);
    if (await tx.read(numberFree(candidate))) return candidate;
  }
  throw new Error(`no free ticket number for format '${scheme.format}'`);
}

/** A random-digit ticket number drawn ahead of the ticket, and whether no ticket had it then. */
export interface DrawnNumber {
  readonly format: string;
  readonly number: string;
  readonly free: boolean;
}

/**
 * Draws a number of a random-digit scheme now and checks it with other reads (the usual case then costs no
 * round trip of its own); nextTicketNumber takes it when the ticket ends up with that scheme. A counter
 * sequence is not drawn ahead: taking its next value locks the sequence row until the commit.
 */
export function drawNumberAhead(
  scheme: NumberingScheme,
  random: () => number,
): BatchRead<DrawnNumber | undefined> {
  if (scheme.sequenceId) return { statements: [], read: () => undefined };
  const number = randomTicketNumber(scheme.format, random);
  const check = numberFree(number);
  return {
    statements: check.statements,
    read: (results) => ({ format: scheme.format, number, free: check.read(results) }),
  };
}

function randomTicketNumber(format: string, random: () => number): string {
  return formatTicketNumber(format, randomNumber(Math.max(digitCount(format), 6), random), "0");
}

function numberFree(number: string): BatchRead<boolean> {
  return {
    statements: [{ sql: "SELECT COUNT(*) AS n FROM ost_ticket WHERE number = ?", params: [number] }],
    read: ([rows = []]) => !rows[0] || int(rows[0], "n") === 0,
  };
}
