import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { inTransaction } from "../domain/sql.ts";
import { type IngestEmailResult, ingestEmail } from "./ingest.ts";
import { type MailHarness, openMailHarness, rawMail } from "./testing.ts";

let h: MailHarness;
let seed = 1;

beforeAll(async () => {
  h = await openMailHarness("email-filters");
  await h.setConfig("verify_email_addrs", "0");
  await h.setConfig("accept_unregistered_email", "1");
});
afterAll(async () => {
  await h?.close();
});

/** Only the stock SYSTEM BAN LIST (filter 1) survives from one case to the next. */
beforeEach(async () => {
  await inTransaction(h.em, async (tx) => {
    await tx.run("DELETE FROM ost_filter_rule WHERE filter_id <> 1");
    await tx.run("DELETE FROM ost_filter_action WHERE filter_id <> 1");
    await tx.run("DELETE FROM ost_filter WHERE id <> 1");
  });
});

/** An active e-mail filter with `any` rules and the given actions (in that order). */
async function addFilter(
  name: string,
  rules: Array<[what: string, how: string, val: string]>,
  actions: Array<[type: string, config: Record<string, unknown>]>,
): Promise<void> {
  await inTransaction(h.em, async (tx) => {
    const { insertId } = await tx.run(
      "INSERT INTO ost_filter SET execorder = 1, isactive = 1, match_all_rules = 0, stop_onmatch = 0, target = 'Email'," +
        " email_id = 0, name = ?, notes = '', created = NOW(), updated = NOW()",
      [name],
    );
    for (const [what, how, val] of rules)
      await tx.run(
        "INSERT INTO ost_filter_rule SET filter_id = ?, what = ?, how = ?, val = ?, isactive = 1, notes = '', created = NOW(), updated = NOW()",
        [insertId, what, how, val],
      );
    for (const [sort, [type, config]] of actions.entries())
      await tx.run(
        "INSERT INTO ost_filter_action SET filter_id = ?, sort = ?, type = ?, configuration = ?, updated = NOW()",
        [insertId, sort + 1, type, JSON.stringify(config)],
      );
  });
}

function ingest(headers: readonly string[]): Promise<IngestEmailResult> {
  const n = seed++;
  const raw = rawMail(
    [
      ...headers,
      "Subject: Printer broken",
      `Message-ID: <filters-${n}@mail.example.com>`,
      "Date: Mon, 02 Mar 2026 09:00:00 +0000",
      "MIME-Version: 1.0",
      "Content-Type: text/plain; charset=utf-8",
    ],
    "Hello, my printer is broken.\n",
  );
  const clock = new Date("2026-03-02T09:00:00Z");
  let state = n * 7919;
  const random = () => {
    state = (state * 16807) % 2147483647;
    return state / 2147483647;
  };
  return ingestEmail(h.em, { raw, ip: "10.0.0.7" }, { clock: { now: () => clock }, random });
}

async function ticketOf(result: IngestEmailResult) {
  if (result.kind !== "created") throw new Error(`expected a new ticket, got ${result.kind}`);
  return h.one(
    "SELECT t.dept_id, t.user_id, u.name, e.address FROM ost_ticket t JOIN ost_user u ON u.id = t.user_id" +
      " JOIN ost_user_email e ON e.id = u.default_email_id WHERE t.ticket_id = ?",
    [result.ticketId],
  );
}

const toSales: Array<[string, Record<string, unknown>]> = [["dept", { dept_id: 2 }]];

describe("e-mail metadata the ticket filters match on", () => {
  it("addressee: the To and Cc names and addresses other than the system mailbox, joined by spaces", async () => {
    await addFilter(
      "addressee",
      [["addressee", "equal", "Team Lead lead@example.org  cc@example.org"]],
      toSales,
    );
    const routed = await ticketOf(
      await ingest([
        "From: Ann <ann@example.net>",
        "To: Support <support@example.com>, Team Lead <Lead@example.org>",
        "Cc: cc@example.org",
      ]),
    );
    expect(routed.dept_id).toBe(2);
    const other = await ticketOf(
      await ingest([
        "From: Ann <ann@example.net>",
        "To: Support <support@example.com>",
        "Cc: cc@example.org",
      ]),
    );
    expect(other.dept_id).toBe(1);
  });

  it("reply-to and reply-to-name: the first Reply-To address and its unquoted name", async () => {
    await addFilter("reply-to", [["reply-to", "equal", "desk@partner.example"]], toSales);
    await addFilter(
      "reply-to-name",
      [["reply-to-name", "equal", "Partner Desk"]],
      [["dept", { dept_id: 3 }]],
    );
    const byAddress = await ticketOf(
      await ingest([
        "From: Bob <bob@example.net>",
        "To: support@example.com",
        "Reply-To: desk@partner.example, other@partner.example",
      ]),
    );
    expect(byAddress.dept_id).toBe(2);
    const byName = await ticketOf(
      await ingest([
        "From: Bob <bob@example.net>",
        "To: support@example.com",
        'Reply-To: "Partner Desk" <x@partner.example>',
      ]),
    );
    expect(byName.dept_id).toBe(3);
    const none = await ticketOf(await ingest(["From: Bob <bob@example.net>", "To: support@example.com"]));
    expect(none.dept_id).toBe(1);
  });

  it("replyto opens the ticket for the Reply-To address and name, and the filters run again on it", async () => {
    await addFilter("use reply-to", [["email", "ends", "@relay.example"]], [["replyto", {}]]);
    await addFilter("the real requester", [["email", "equal", "carol@customer.example"]], toSales);
    const r = await ingest([
      "From: Relay <noreply@relay.example>",
      "To: support@example.com",
      'Reply-To: "Carol Client" <carol@customer.example>',
    ]);
    const t = await ticketOf(r);
    expect(t).toMatchObject({ address: "carol@customer.example", name: "Carol Client", dept_id: 2 });
    // Nobody was created for the relay's address.
    expect(await h.query("SELECT id FROM ost_user_email WHERE address = 'noreply@relay.example'")).toEqual(
      [],
    );
    // The same Reply-To as the sender changes nothing.
    const same = await ticketOf(
      await ingest([
        "From: Dan <dan@relay.example>",
        "To: support@example.com",
        "Reply-To: DAN@relay.example",
      ]),
    );
    expect(same).toMatchObject({ address: "dan@relay.example", dept_id: 1 });
  });
});
