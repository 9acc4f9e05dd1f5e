import { type StoredAnswer, storeAnswer } from "@ostmesh/kit/osticket/forms/answers.ts";
import type { AnswerDates } from "@ostmesh/kit/osticket/forms/datetime.ts";
import {
  cleanTextAnswer,
  decodeSpecialChars,
  phpTruthyString,
  sanitizeRichText,
  searchable,
  truncate,
} from "@ostmesh/kit/osticket/html/format.ts";
import { insertFormEntry, upsertCdata } from "../forms/entries.ts";
import { cdataColumn, type FormDefinition, hasData, isEnabled, isExtStored } from "../reference/forms.ts";
import { int, str } from "../rows.ts";
import type { SearchRow } from "../search.ts";
import type { BatchRead, Row, Sql, SqlValue } from "../sql.ts";
import { isEmailAddress } from "./email.ts";

export interface ExistingUser {
  readonly id: number;
  readonly name: string;
  readonly orgId: number;
  readonly email: string;
  /** The user has a client-portal account (ost_user_account row). */
  readonly hasAccount: boolean;
}

const USER_COLUMNS =
  "u.id, u.name, u.org_id, e.address AS email, (SELECT COUNT(*) FROM ost_user_account a WHERE a.user_id = u.id) AS accounts";

function toUser(row: Record<string, unknown>): ExistingUser {
  return {
    id: int(row, "id"),
    name: str(row, "name"),
    orgId: int(row, "org_id"),
    email: str(row, "email"),
    hasAccount: int(row, "accounts") > 0,
  };
}

/**
 * User lookup by any of their addresses; the utf8_general_ci collation makes it case-insensitive.
 * `locking` reads the latest committed rows (and share-locks them) instead of the transaction's snapshot.
 */
export async function findUserByEmail(
  tx: Sql,
  email: string,
  options: { locking?: boolean } = {},
): Promise<ExistingUser | undefined> {
  const row = await tx.first(`${USER_BY_EMAIL}${options.locking ? " LOCK IN SHARE MODE" : ""}`, [email]);
  return row ? toUser(row) : undefined;
}

const USER_BY_EMAIL =
  `SELECT ${USER_COLUMNS} FROM ost_user_email m JOIN ost_user u ON u.id = m.user_id` +
  " LEFT JOIN ost_user_email e ON e.id = u.default_email_id WHERE m.address = ? LIMIT 1";

/**
 * The ban-list check (SYSTEM BAN LIST: an active e-mail rule equal to the address), the user lookup by
 * e-mail and the organization the address's domain maps to (organizationForEmail, for a requester who is
 * no user yet), in one round trip.
 */
export async function lookupRequester(tx: Sql, email: string): Promise<Requester> {
  return tx.read(requesterRead(email));
}

/** What lookupRequester finds for an address. */
export interface Requester {
  readonly banned: boolean;
  readonly user: ExistingUser | undefined;
  readonly domainOrgId: number;
}

/** lookupRequester as statements, to go in one round trip with other reads. */
export function requesterRead(email: string): BatchRead<Requester> {
  const domain = email.split("@")[1] ?? "";
  return {
    statements: [
      {
        sql:
          "SELECT 1 AS banned FROM ost_filter f JOIN ost_filter_rule r ON r.filter_id = f.id" +
          " WHERE f.name = 'SYSTEM BAN LIST' AND f.isactive AND r.isactive AND r.what = 'email' AND r.val = ? LIMIT 1",
        params: [email],
      },
      { sql: USER_BY_EMAIL, params: [email] },
      ...(domain ? [organizationsOfDomain(domain)] : []),
    ],
    read: ([banned = [], found = [], orgs = []]) => {
      const row = found[0];
      return {
        banned: banned.length > 0,
        user: row ? toUser(row) : undefined,
        domainOrgId: domain ? organizationMatching(orgs, domain) : 0,
      };
    },
  };
}

export async function findUserById(tx: Sql, id: number): Promise<ExistingUser | undefined> {
  const row = await tx.first(
    `SELECT ${USER_COLUMNS} FROM ost_user u LEFT JOIN ost_user_email e ON e.id = u.default_email_id WHERE u.id = ?`,
    [id],
  );
  return row ? toUser(row) : undefined;
}

/** Title Case like PHP's mb_convert_case(MB_CASE_TITLE). */
function titleCase(text: string): string {
  return text
    .toLowerCase()
    .replace(/(^|[^\p{L}\p{N}'])(\p{L})/gu, (_, pre: string, c: string) => pre + c.toUpperCase());
}

/**
 * The name osTicket stores for a new user (TextboxField::parse, User::fromVars, User::save): tags and emoji
 * removed, whitespace compacted, "Last, First" → "First Last", "Last, First, Suffix" → "First Last Suffix",
 * a name that is an e-mail address → its mailbox with dots as spaces in Title Case; the mailbox part of the
 * e-mail when no name is given; at most 128 characters.
 */
export function normalizeUserName(rawName: string | undefined, email: string): string {
  let name = rawName === undefined ? "" : cleanTextAnswer(rawName);
  if (!phpTruthyString(name)) name = email.split("@")[0] ?? "";
  name = decodeSpecialChars(sanitizeRichText(name));
  const parts = name.split(",").map((p) => p.trim());
  if (parts.length === 2) name = `${parts[1]} ${parts[0]}`;
  else if (parts.length === 3) name = `${parts[1]} ${parts[0]} ${parts[2]}`;
  if (isEmailAddress(name)) {
    const box = name.split("@")[0] ?? "";
    name = titleCase(box.includes(".") ? box.replaceAll(".", " ") : box);
  }
  return truncate(name, 128);
}

/** `ost_organization.status` bits (include/class.organization.php L42-47). */
export const OrgFlag = {
  COLLAB_ALL_MEMBERS: 0x01,
  COLLAB_PRIMARY_CONTACT: 0x02,
  ASSIGN_AGENT_MANAGER: 0x04,
  SHARE_PRIMARY_CONTACT: 0x08,
  SHARE_EVERYBODY: 0x10,
} as const;

/** `ost_user.status` bit of an organization's primary contact (include/class.user.php L88). */
export const PRIMARY_ORG_CONTACT = 0x01;

/** Organization whose `domain` list maps the e-mail's domain (`.example.com` covers subdomains). */
export async function organizationForEmail(tx: Sql, email: string): Promise<number> {
  const domain = email.split("@")[1] ?? "";
  if (!domain) return 0;
  const { sql, params } = organizationsOfDomain(domain);
  return organizationMatching(await tx.all(sql, params), domain);
}

/** Organizations whose `domain` list may name `domain` (a superset: organizationMatching decides). */
function organizationsOfDomain(domain: string): { sql: string; params: SqlValue[] } {
  return {
    sql: "SELECT id, domain FROM ost_organization WHERE domain > '' AND domain LIKE ? ORDER BY id",
    params: [`%${domain.replace(/[\\%_]/g, (c) => `\\${c}`)}%`],
  };
}

function organizationMatching(rows: readonly Row[], domain: string): number {
  const target = domain.toLowerCase();
  for (const row of rows) {
    for (const entry of str(row, "domain").split(",")) {
      const d = entry.trim().toLowerCase();
      if (d.startsWith(".") ? target.endsWith(d) : d === target) return int(row, "id");
    }
  }
  return 0;
}

export interface NewUser {
  readonly email: string;
  readonly name: string;
  readonly orgId: number;
  /** Cleaned contact-form values by field name (phone, notes, custom fields); ext-stored fields ignored. */
  readonly answers: ReadonlyMap<string, string | null>;
  /** How date answers are indexed (as the helpdesk prints them); without: as stored. */
  readonly dates?: AnswerDates;
}

export interface CreatedUser extends ExistingUser {
  readonly searchRow: SearchRow;
}

/**
 * Creates an end user the way an API ticket does (FACTS §2.1 steps 3-8): ost_user_email, ost_user, the
 * contact-form entry with a value row per stored field (NULL when empty), the ost_user__cdata mirror.
 * Returns the `U` search row for the caller to write with its others.
 */
export async function createUser(
  tx: Sql,
  contactForm: FormDefinition | undefined,
  user: NewUser,
): Promise<CreatedUser> {
  const [email, created] = await tx.runAll([
    { sql: "INSERT INTO ost_user_email (user_id, address) VALUES (0, ?)", params: [user.email] },
    {
      sql: "INSERT INTO ost_user (org_id, default_email_id, name, created, updated) VALUES (?, LAST_INSERT_ID(), ?, NOW(), NOW())",
      params: [user.orgId, user.name],
    },
  ]);
  const emailId = email?.insertId ?? 0;
  const userId = created?.insertId ?? 0;
  tx.later("UPDATE ost_user_email SET user_id = ? WHERE id = ?", [userId, emailId]);

  const stored: StoredAnswer[] = [];
  if (contactForm) {
    for (const field of contactForm.fields) {
      if (!isEnabled(field) || isExtStored(field) || !hasData(field)) continue;
      stored.push(storeAnswer(field, user.answers.get(field.name) ?? null, user.dates));
    }
    insertFormEntry(
      tx,
      { formId: contactForm.id, objectType: "U", objectId: userId, sort: 1, extra: null },
      stored,
    );
    const byId = new Map(contactForm.fields.map((f) => [f.id, f]));
    const cdata = new Map<string, string>();
    for (const a of stored) {
      const field = byId.get(a.fieldId);
      if (field) cdata.set(cdataColumn(field), a.cdata);
    }
    upsertCdata(tx, "ost_user__cdata", "user_id", userId, cdata);
  }
  // osTicket lists the new user's address twice in the U row (its e-mail collection holds it twice).
  const answersText = stored
    .map((a) => a.searchable)
    .filter((s) => phpTruthyString(s))
    .join("\n")
    .trim();
  return {
    id: userId,
    name: user.name,
    orgId: user.orgId,
    email: user.email,
    hasAccount: false,
    searchRow: {
      objectType: "U",
      objectId: userId,
      title: searchable(user.name),
      content: `${answersText} ${user.email}\n${user.email}`,
    },
  };
}
