import { int, phpJsonEncode, str } from "../domain/rows.ts";
import type { Sql } from "../domain/sql.ts";
import type { MailAddress, ParsedEmail } from "./parse.ts";

/** One system mailbox (ost_email). */
export interface SystemMailbox {
  readonly id: number;
  readonly email: string;
  readonly name: string;
  readonly deptId: number;
}

/** The system mailboxes, looked up by address case-insensitively (as the utf8_general_ci collation does). */
export class SystemMailboxes {
  readonly #byAddress: ReadonlyMap<string, SystemMailbox>;
  readonly #byId: ReadonlyMap<number, SystemMailbox>;

  constructor(list: readonly SystemMailbox[]) {
    this.#byAddress = new Map(list.map((m) => [m.email.toLowerCase(), m]));
    this.#byId = new Map(list.map((m) => [m.id, m]));
  }

  static async load(tx: Sql): Promise<SystemMailboxes> {
    const rows = await tx.all("SELECT email_id, email, name, dept_id FROM ost_email ORDER BY email_id");
    return new SystemMailboxes(
      rows.map((r) => ({
        id: int(r, "email_id"),
        email: str(r, "email"),
        name: str(r, "name"),
        deptId: int(r, "dept_id"),
      })),
    );
  }

  find(address: string): SystemMailbox | undefined {
    return this.#byAddress.get(address.toLowerCase());
  }

  byId(id: number): SystemMailbox | undefined {
    return this.#byId.get(id);
  }
}

/** `Name <address>` as osTicket prints a system mailbox (just the address when it has no name). */
export function mailboxString(m: SystemMailbox): string {
  return m.name ? `${m.name} <${m.email}>` : m.email;
}

/** Another addressee of the mail: a candidate collaborator (never a Delivered-To address). */
export interface OtherRecipient {
  /** `Email (to)` / `Email (cc)`, or `delivered-to` when the address also came in Delivered-To. */
  readonly source: string;
  readonly name: string;
  /** Mailbox part lower-cased, domain as written (osTicket's form). */
  readonly email: string;
}

/** How the mail reached the help desk (Mail_Parse::getHeaderInfo, FACTS §1.1, §1.4). */
export interface Addressing {
  /** First system mailbox among To, Cc and Delivered-To; 0 when none (ost_ticket.email_id). */
  readonly emailId: number;
  /** Every system mailbox the mail was addressed to. */
  readonly systemEmailIds: readonly number[];
  /** The other addressees, in header order. */
  readonly recipients: readonly OtherRecipient[];
  /** ost_thread_entry.recipients as osTicket encodes it. */
  readonly recipientsJson: string;
  /** Number of addresses in the recipients list (more than one → REPLY_ALL, else REPLY_USER). */
  readonly recipientCount: number;
}

/** A PHP list whose keys survive array_unique: [key, value] pairs. */
type PhpList = Array<[number, string]>;

/** The addressing of a parsed mail against the system mailboxes. */
export function addressing(mail: ParsedEmail, mailboxes: SystemMailboxes): Addressing {
  const lists = new Map<string, PhpList>();
  const push = (key: string, value: string) => {
    const list = lists.get(key) ?? [];
    list.push([list.length, value]);
    lists.set(key, list);
  };
  const recipients: OtherRecipient[] = [];
  const systemEmailIds: number[] = [];
  let emailId = 0;
  const sources: Array<[string, readonly MailAddress[]]> = [
    ["to", mail.to],
    ["cc", mail.cc],
    ["delivered-to", mail.deliveredTo],
  ];
  for (const [source, list] of sources) {
    for (const addr of list) {
      const email = normalizedAddress(addr.address);
      const mailbox = mailboxes.find(email);
      if (!mailbox) {
        // Virtual Delivered-To addresses are never recipients.
        if (source === "delivered-to") continue;
        recipients.push({ source: `Email (${source})`, name: addr.name, email });
        push(source, `${addr.name} <${email}>`);
      } else {
        systemEmailIds.push(mailbox.id);
        push("to", mailboxString(mailbox));
        if (!emailId) emailId = mailbox.id;
      }
    }
  }
  // array_unique on `to` (first occurrence kept, keys kept); `to` is always present.
  const seen = new Set<string>();
  lists.set(
    "to",
    (lists.get("to") ?? []).filter(([, v]) => !seen.has(v) && !!seen.add(v)),
  );
  // Addressees that also came in Delivered-To are flagged so they never become collaborators.
  const delivered = mail.deliveredTo.map((a) => a.address.toLowerCase());
  const flagged = recipients.map((r) =>
    delivered.includes(r.email.toLowerCase()) ? { ...r, source: "delivered-to" } : r,
  );
  // osTicket's Bcc check reads a recipient list that never holds Bcc addresses: a Bcc to a mailbox counts
  // for nothing.
  let count = 0;
  for (const list of lists.values()) count += list.length;
  return {
    emailId,
    systemEmailIds: [...new Set(systemEmailIds)],
    recipients: flagged,
    recipientsJson: encodeLists(lists),
    recipientCount: count,
  };
}

/** `strtolower(mailbox) . '@' . host`. */
function normalizedAddress(address: string): string {
  const at = address.lastIndexOf("@");
  return at === -1 ? address.toLowerCase() : `${address.slice(0, at).toLowerCase()}${address.slice(at)}`;
}

/** json_encode of the recipients map: a list stays a JSON array only while its keys are 0..n-1. */
function encodeLists(lists: ReadonlyMap<string, PhpList>): string {
  const parts = [...lists].map(([key, list]) => {
    const sequential = list.every(([k], i) => k === i);
    const body = sequential
      ? `[${list.map(([, v]) => phpJsonEncode(v)).join(",")}]`
      : `{${list.map(([k, v]) => `${phpJsonEncode(String(k))}:${phpJsonEncode(v)}`).join(",")}}`;
    return `${phpJsonEncode(key)}:${body}`;
  });
  return `{${parts.join(",")}}`;
}
