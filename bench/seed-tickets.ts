/**
 * Fills an osTicket database with N realistic tickets, for the ticket benchmarks:
 *
 *   npx node bench/seed-tickets.ts 100000 [--url=mysql://root@127.0.0.1:3306/ostmesh_bench] [--fresh]
 *                                         [--indexes] [--batch=1000] [--seed=1]
 *
 * --fresh   (re)creates the database from the real fresh install (../shared/osticket) and runs ostmesh's
 *           migrations; without it, tickets are added to what is there.
 * --indexes applies @ostmesh/db's opt-in recommended indexes afterwards.
 *
 * The bulk path writes what the ticket service's write path writes for an API-created ticket, with
 * multi-row INSERTs in one transaction per batch: requesters (ost_user, ost_user_email, contact form entry
 * and values, ost_user__cdata, the U search row), tickets (ost_ticket, ost_thread, the ticket form entry with
 * subject and priority, ost_ticket__cdata, the T search row, `created` and `closed` thread events) and 1-4
 * thread entries each (first message flagged ORIGINAL_MESSAGE, agent responses, internal notes, end-user
 * follow-ups; H search rows). Times spread over two years, written with FROM_UNIXTIME in the session's
 * SYSTEM zone as osTicket writes them; statuses, departments, topics, priorities, assignment and sources
 * mixed as a busy helpdesk has them. Text comes from a Zipf-distributed vocabulary, so full-text search
 * meets common and rare words like it would in real data.
 */
import { parseArgs } from "node:util";
import {
  applyRecommendedIndexes,
  createOrm,
  type EntityManager,
  execute,
  query,
  runMigrations,
} from "@ostmesh/db";
import { loadDump, serverConnection } from "@ostmesh/db/testing/scratch.ts";

const { values: args, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    url: { type: "string", default: process.env.DATABASE_URL ?? "mysql://root@127.0.0.1:3306/ostmesh_bench" },
    fresh: { type: "boolean", default: false },
    indexes: { type: "boolean", default: false },
    batch: { type: "string", default: "1000" },
    seed: { type: "string", default: "1" },
  },
});
const total = Number(positionals[0] ?? "10000");
const batchSize = Number(args.batch);
if (!Number.isInteger(total) || total < 1 || !Number.isInteger(batchSize) || batchSize < 1) {
  console.error("usage: seed-tickets.ts <count> [--url=...] [--fresh] [--indexes] [--batch=1000] [--seed=1]");
  process.exit(64);
}

// ---- deterministic randomness and text ----

let state = Number(args.seed) >>> 0 || 1;
function random(): number {
  state = (state + 0x6d2b79f5) >>> 0;
  let t = state;
  t = Math.imul(t ^ (t >>> 15), t | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
}
const pick = <T>(list: readonly T[]): T => list[Math.floor(random() * list.length)] as T;
const between = (lo: number, hi: number) => lo + Math.floor(random() * (hi - lo + 1));

// English function words come first, as in any text: InnoDB's FULLTEXT stopword list drops the first group,
// the second is indexed but so frequent that nobody searches for it.
const STOPWORDS = (
  "the a to of and in is it for on that this with be are as at by was from or an will what when where who how " +
  "about com de en la und www i"
).split(" ");
const FREQUENT = (
  "have not you we can our my your has had do does did but if so just also there their they them then than " +
  "been being were would could should may might some any all more most other such only same very still again " +
  "after before since until while because into over under between through during without within"
).split(" ");
const HELPDESK = (
  "printer email password reset account login error issue problem request access laptop screen network wifi " +
  "vpn server outlook calendar meeting invoice billing payment refund order shipping delivery update install " +
  "software license report crash slow broken missing file folder share drive backup restore phone mobile app " +
  "browser chrome firefox website page link download upload permission user admin team office desk keyboard " +
  "mouse monitor cable power battery charger headset camera microphone audio video call ticket support help " +
  "urgent please thanks today tomorrow morning afternoon week month customer client contract quote price " +
  "product service subscription renewal cancel upgrade downgrade plan trial demo training document manual " +
  "question answer feedback complaint suggestion feature bug fix patch version release deploy database query " +
  "toner scanner projector router switch firewall certificate domain mailbox quota archive migration"
).split(" ");
// A long tail of rare words (product codes, names, error codes), so that some searches are very selective.
const PREFIXES = ["zeta", "kilo", "nova", "orbi", "quix", "vexa"];
const RARE = Array.from({ length: 5000 }, (_, i) => `${PREFIXES[i % PREFIXES.length]}${i}`);
const VOCABULARY = [...STOPWORDS, ...FREQUENT, ...HELPDESK, ...RARE];
// Zipf weights: the r-th word is drawn with probability ~ 1/r.
const CUMULATIVE = (() => {
  let sum = 0;
  return VOCABULARY.map((_, r) => {
    sum += 1 / (r + 1);
    return sum;
  });
})();
function word(): string {
  const x = random() * (CUMULATIVE[CUMULATIVE.length - 1] ?? 1);
  let lo = 0;
  let hi = CUMULATIVE.length - 1;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if ((CUMULATIVE[mid] ?? 0) < x) lo = mid + 1;
    else hi = mid;
  }
  return VOCABULARY[lo] ?? "word";
}
const words = (n: number) => Array.from({ length: n }, word).join(" ");
const sentence = (n: number) => {
  const s = words(n);
  return `${s.charAt(0).toUpperCase()}${s.slice(1)}.`;
};

const FIRST = [
  "Ada",
  "Ben",
  "Cleo",
  "Dev",
  "Eva",
  "Finn",
  "Gia",
  "Hugo",
  "Iris",
  "Jon",
  "Kira",
  "Leo",
  "Mia",
  "Nils",
  "Omar",
];
const LAST = [
  "Smith",
  "Jones",
  "Garcia",
  "Chen",
  "Novak",
  "Okafor",
  "Silva",
  "Berg",
  "Kowalski",
  "Rossi",
  "Tanaka",
];

// ---- database ----

const url = new URL(args.url);
const database = url.pathname.replace(/^\//, "");
if (!/^[A-Za-z0-9_]+$/.test(database)) {
  console.error(`--url must name a database (got ${JSON.stringify(database)})`);
  process.exit(64);
}
if (args.fresh) {
  const conn = await serverConnection();
  await conn.query(`DROP DATABASE IF EXISTS \`${database}\``);
  await conn.end();
  await loadDump(database);
}
const orm = await createOrm({ url: args.url, pool: { max: 2 } });
const em = () => orm.em.fork();
if (args.fresh) {
  await runMigrations(orm);
  await execute(
    em(),
    "INSERT INTO ost_config (namespace, `key`, value, updated) VALUES ('core', 'verify_email_addrs', '0', NOW())" +
      " ON DUPLICATE KEY UPDATE value = '0'",
  );
}

async function one(sql: string, params: unknown[] = []): Promise<Record<string, unknown>> {
  const [row] = await query(em(), sql, params);
  if (!row) throw new Error(`no row for ${sql}`);
  return row;
}
const nextId = async (table: string, column = "id") =>
  Number((await one(`SELECT COALESCE(MAX(\`${column}\`), 0) + 1 AS n FROM \`${table}\``)).n);
const fieldId = async (formType: string, name: string) =>
  Number(
    (
      await one(
        "SELECT f.id FROM ost_form_field f JOIN ost_form fo ON fo.id = f.form_id WHERE fo.type = ? AND f.name = ? ORDER BY fo.id LIMIT 1",
        [formType, name],
      )
    ).id,
  );
const formId = async (type: string) =>
  Number((await one("SELECT id FROM ost_form WHERE type = ? ORDER BY title, id LIMIT 1", [type])).id);
const eventId = async (name: string) =>
  Number((await one("SELECT id FROM ost_event WHERE name = ?", [name])).id);

const ids = {
  ticket: await nextId("ost_ticket", "ticket_id"),
  thread: await nextId("ost_thread"),
  entry: await nextId("ost_thread_entry"),
  formEntry: await nextId("ost_form_entry"),
  user: await nextId("ost_user"),
  email: await nextId("ost_user_email"),
  event: await nextId("ost_thread_event"),
};
const forms = { ticket: await formId("T"), contact: await formId("U") };
const fields = {
  subject: await fieldId("T", "subject"),
  priority: await fieldId("T", "priority"),
  phone: await fieldId("U", "phone"),
  notes: await fieldId("U", "notes"),
};
const events = { created: await eventId("created"), closed: await eventId("closed") };
const hasCdata = async (table: string) =>
  Number(
    (
      await one(
        "SELECT COUNT(*) AS n FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ?",
        [table],
      )
    ).n,
  ) > 0;
const cdata = { ticket: await hasCdata("ost_ticket__cdata"), user: await hasCdata("ost_user__cdata") };
const staff = (
  await query(em(), "SELECT staff_id, firstname, lastname, dept_id FROM ost_staff WHERE isactive = 1")
).map((r) => ({
  id: Number(r.staff_id),
  name: `${r.firstname} ${r.lastname}`.trim(),
}));
const takenNumbers = new Set(
  (await query(em(), "SELECT number FROM ost_ticket")).map((r) => String(r.number)),
);
const PRIORITIES = [
  { id: 1, label: "Low", weight: 2 },
  { id: 2, label: "Normal", weight: 6 },
  { id: 3, label: "High", weight: 2 },
  { id: 4, label: "Emergency", weight: 1 },
];

// osTicket's default `######` format has 900,000 numbers; random numbers need room to stay quick to draw,
// so a helpdesk seeded past a quarter of that gets a longer format (ticket_number_format), as an admin
// of a helpdesk that size would set it. Creates made afterwards follow the same format.
const digits = Math.max(6, Math.ceil(Math.log10((takenNumbers.size + total) * 4)));
if (digits > 6) {
  await execute(
    em(),
    "UPDATE ost_config SET value = ? WHERE namespace = 'core' AND `key` = 'ticket_number_format'",
    ["#".repeat(digits)],
  );
  console.log(`ticket numbers: ${digits} digits (ticket_number_format ${"#".repeat(digits)})`);
}

function ticketNumber(): string {
  for (;;) {
    const n = String(between(10 ** (digits - 1), 10 ** digits - 1));
    if (!takenNumbers.has(n)) {
      takenNumbers.add(n);
      return n;
    }
  }
}

function priority() {
  const x = random() * 11;
  let acc = 0;
  for (const p of PRIORITIES) {
    acc += p.weight;
    if (acc > x) return p;
  }
  return PRIORITIES[1] ?? { id: 2, label: "Normal", weight: 1 };
}

const collapse = (s: string) => s.replace(/\s+/g, " ").trim();

// ---- batches ----

class Insert {
  readonly rows: unknown[][] = [];
  readonly head: string;
  readonly row: string;
  constructor(head: string, row: string) {
    this.head = head;
    this.row = row;
  }
  add(...values: unknown[]): void {
    this.rows.push(values);
  }
  async run(tx: EntityManager): Promise<void> {
    // Keep each statement well under max_allowed_packet.
    for (let i = 0; i < this.rows.length; i += 2000) {
      const chunk = this.rows.slice(i, i + 2000);
      await execute(tx, `${this.head} VALUES ${chunk.map(() => this.row).join(", ")}`, chunk.flat());
    }
  }
}

const userCount = Math.max(1, Math.floor(total / 5));
const now = Math.floor(Date.now() / 1000);
const span = 2 * 365 * 86_400;
const firstUser = ids.user;

async function seedUsers(from: number, count: number): Promise<void> {
  const emails = new Insert("INSERT INTO ost_user_email (id, user_id, flags, address)", "(?, ?, 0, ?)");
  const users = new Insert(
    "INSERT INTO ost_user (id, org_id, default_email_id, status, name, created, updated)",
    "(?, 0, ?, 0, ?, FROM_UNIXTIME(?), FROM_UNIXTIME(?))",
  );
  const entries = new Insert(
    "INSERT INTO ost_form_entry (id, form_id, object_id, object_type, sort, extra, created, updated)",
    "(?, ?, ?, 'U', 1, NULL, FROM_UNIXTIME(?), FROM_UNIXTIME(?))",
  );
  const values = new Insert(
    "INSERT INTO ost_form_entry_values (entry_id, field_id, value, value_id)",
    "(?, ?, ?, NULL)",
  );
  const userCdata = new Insert(
    "INSERT INTO ost_user__cdata (user_id, email, name, phone, notes)",
    "(?, NULL, NULL, ?, '')",
  );
  const search = new Insert(
    "REPLACE INTO ost__search (object_type, object_id, title, content)",
    "('U', ?, ?, ?)",
  );
  for (let i = 0; i < count; i++) {
    const id = from + i;
    const emailId = ids.email++;
    const name = `${pick(FIRST)} ${pick(LAST)}`;
    const address = `${name.toLowerCase().replace(/ /g, ".")}.${id}@example.com`;
    const at = now - span - 86_400 + Math.floor((i / count) * 86_400);
    const phone = random() < 0.5 ? `${between(200, 999)}555${between(1000, 9999)}` : null;
    emails.add(emailId, id, address);
    users.add(id, emailId, name, at, at);
    const entryId = ids.formEntry++;
    entries.add(entryId, forms.contact, id, at, at);
    values.add(entryId, fields.phone, phone);
    values.add(entryId, fields.notes, null);
    userCdata.add(id, phone ?? "");
    const shown = phone ? `(${phone.slice(0, 3)}) ${phone.slice(3, 6)}-${phone.slice(6)} ` : " ";
    search.add(id, name, `${shown}${address}\n${address}`);
  }
  await orm.em.fork().transactional(async (tx) => {
    for (const insert of [emails, users, entries, values, search]) await insert.run(tx);
    if (cdata.user) await userCdata.run(tx);
  });
}

async function seedTickets(from: number, count: number): Promise<void> {
  const tickets = new Insert(
    "INSERT INTO ost_ticket (ticket_id, number, user_id, status_id, dept_id, sla_id, topic_id, staff_id, team_id," +
      " email_id, ip_address, source, isoverdue, isanswered, est_duedate, closed, lastupdate, created, updated)",
    "(?, ?, ?, ?, ?, 1, ?, ?, 0, 0, ?, ?, ?, ?, FROM_UNIXTIME(?), IF(? IS NULL, NULL, FROM_UNIXTIME(?)), FROM_UNIXTIME(?), FROM_UNIXTIME(?), FROM_UNIXTIME(?))",
  );
  const threads = new Insert(
    "INSERT INTO ost_thread (id, object_id, object_type, lastmessage, lastresponse, created)",
    "(?, ?, 'T', FROM_UNIXTIME(?), IF(? IS NULL, NULL, FROM_UNIXTIME(?)), FROM_UNIXTIME(?))",
  );
  const entries = new Insert(
    "INSERT INTO ost_thread_entry (id, pid, thread_id, staff_id, user_id, type, flags, poster, source, title, body," +
      " format, ip_address, created, updated)",
    "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'text', ?, FROM_UNIXTIME(?), '0000-00-00 00:00:00')",
  );
  const formEntries = new Insert(
    "INSERT INTO ost_form_entry (id, form_id, object_id, object_type, sort, extra, created, updated)",
    "(?, ?, ?, 'T', 1, NULL, FROM_UNIXTIME(?), FROM_UNIXTIME(?))",
  );
  const values = new Insert(
    "INSERT INTO ost_form_entry_values (entry_id, field_id, value, value_id)",
    "(?, ?, ?, ?)",
  );
  const ticketCdata = new Insert("INSERT INTO ost_ticket__cdata (ticket_id, subject, priority)", "(?, ?, ?)");
  const search = new Insert(
    "REPLACE INTO ost__search (object_type, object_id, title, content)",
    "(?, ?, ?, ?)",
  );
  const threadEvents = new Insert(
    "INSERT INTO ost_thread_event (id, thread_id, thread_type, event_id, staff_id, team_id, dept_id, topic_id, data," +
      " username, uid, uid_type, annulled, timestamp)",
    "(?, ?, 'T', ?, ?, 0, ?, ?, ?, ?, ?, ?, 0, FROM_UNIXTIME(?))",
  );
  for (let i = 0; i < count; i++) {
    const ticketId = from + i;
    const threadId = ids.thread++;
    const number = ticketNumber();
    const userId = firstUser + Math.floor(random() * userCount);
    const created = now - span + Math.floor(((from - ids.ticket + i) / total) * span);
    const roll = random();
    const statusId = roll < 0.7 ? 3 : roll < 0.75 ? 2 : 1;
    const closed = statusId !== 1;
    const deptId = between(1, 3);
    const topicId = pick([0, 1, 1, 2, 10, 11]);
    const agent = staff.length && random() < 0.6 ? pick(staff) : undefined;
    const source = pick(["API", "API", "Email", "Email", "Web", "Phone"]);
    const ip = `198.51.100.${between(1, 254)}`;
    const subject = sentence(between(3, 8)).replace(/\.$/, "");
    const p = priority();
    const replies = between(0, 3);
    let at = created;
    let lastResponse: number | null = null;
    let lastMessage = created;
    const userName = `User ${userId}`;
    // First message, then agent responses, notes and follow-ups.
    let firstEntry = 0;
    for (let e = 0; e <= replies; e++) {
      const entryId = ids.entry++;
      const type = e === 0 ? "M" : pick(["R", "R", "N", "M"]);
      const body = `${sentence(between(8, 25))} ${sentence(between(5, 20))}`;
      const title = e === 0 ? subject : type === "N" ? sentence(between(2, 4)).replace(/\.$/, "") : null;
      const byStaff = type !== "M" ? (agent ?? staff[0]) : undefined;
      if (e === 0) firstEntry = entryId;
      else at += between(600, 3 * 86_400);
      entries.add(
        entryId,
        type === "R" ? firstEntry : 0,
        threadId,
        byStaff?.id ?? 0,
        byStaff ? 0 : userId,
        type,
        e === 0 ? 1 : 0,
        byStaff?.name ?? userName,
        type === "M" ? source : "",
        title,
        body,
        type === "M" && e === 0 ? ip : "",
        at,
      );
      search.add("H", entryId, title ?? "", collapse(body));
      if (type === "R") lastResponse = at;
      if (type === "M") lastMessage = at;
    }
    const closedAt = closed ? at + between(600, 86_400) : null;
    const lastUpdate = closedAt ?? at;
    const answered = lastResponse !== null && lastResponse >= lastMessage ? 1 : 0;
    const estDue = created + 18 * 3600 + between(0, 3 * 86_400);
    const overdue = !closed && estDue < now && random() < 0.5 ? 1 : 0;
    tickets.add(
      ticketId,
      number,
      userId,
      statusId,
      deptId,
      topicId,
      agent?.id ?? 0,
      ip,
      source,
      overdue,
      answered,
      estDue,
      closedAt,
      closedAt,
      lastUpdate,
      created,
      lastUpdate,
    );
    threads.add(threadId, ticketId, lastMessage, lastResponse, lastResponse, created);
    const formEntryId = ids.formEntry++;
    formEntries.add(formEntryId, forms.ticket, ticketId, created, created);
    values.add(formEntryId, fields.subject, subject, null);
    values.add(formEntryId, fields.priority, p.label, p.id);
    ticketCdata.add(ticketId, subject, String(p.id));
    search.add("T", ticketId, `${number} ${subject}`, subject);
    threadEvents.add(
      ids.event++,
      threadId,
      events.created,
      0,
      deptId,
      topicId,
      null,
      "SYSTEM",
      userId,
      "U",
      created,
    );
    if (closedAt !== null)
      threadEvents.add(
        ids.event++,
        threadId,
        events.closed,
        agent?.id ?? 0,
        deptId,
        topicId,
        JSON.stringify({ status: [statusId, statusId === 3 ? "Closed" : "Resolved"] }),
        "ostadmin",
        agent?.id ?? 1,
        "S",
        closedAt,
      );
  }
  await orm.em.fork().transactional(async (tx) => {
    for (const insert of [tickets, threads, entries, formEntries, values, search, threadEvents])
      await insert.run(tx);
    if (cdata.ticket) await ticketCdata.run(tx);
  });
}

function progress(label: string, done: number, of: number, started: number): void {
  const width = 30;
  const filled = Math.round((done / of) * width);
  const seconds = (performance.now() - started) / 1000;
  const rate = done / Math.max(seconds, 0.001);
  const eta = rate > 0 ? Math.ceil((of - done) / rate) : 0;
  process.stderr.write(
    `\r${label} [${"#".repeat(filled)}${"-".repeat(width - filled)}] ${((done / of) * 100).toFixed(0).padStart(3)}% ` +
      `${done}/${of}  ${rate.toFixed(0)}/s  ETA ${eta}s   `,
  );
  if (done === of) process.stderr.write("\n");
}

try {
  let started = performance.now();
  for (let done = 0; done < userCount; ) {
    const n = Math.min(batchSize * 2, userCount - done);
    await seedUsers(ids.user + done, n);
    done += n;
    progress("users  ", done, userCount, started);
  }
  ids.user += userCount;
  started = performance.now();
  const firstTicket = ids.ticket;
  for (let done = 0; done < total; ) {
    const n = Math.min(batchSize, total - done);
    await seedTickets(firstTicket + done, n);
    done += n;
    progress("tickets", done, total, started);
  }
  if (args.indexes) {
    for (const r of await applyRecommendedIndexes(orm))
      console.error(`index ${r.table}.${r.name}: ${r.status}`);
  }
  const [count] = await query(em(), "SELECT COUNT(*) AS n FROM ost_ticket");
  console.log(
    `${database}: ${count?.n} tickets (${total} added in ${((performance.now() - started) / 1000).toFixed(1)} s)`,
  );
} finally {
  await orm.close(true);
}
