import { create } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import type { EntityManager } from "@ostmesh/db";
import { execute, query } from "@ostmesh/db";
import { looksLikeEmail, num, str, UserAccountStatus } from "@ostmesh/kit/auth/index.ts";
import { FieldFlag } from "@ostmesh/kit/osticket/forms/fields.ts";
import { type User, UserSchema } from "@ostmesh/proto/gen/osticket/identity/v1/identity_pb.js";
import { fromUnixSeconds } from "../times.ts";
import { Conditions, cleanName, inOrderOf, maskPaths, pageByName, searchWords } from "./common.ts";
import {
  answersOf,
  answerValues,
  baseForm,
  type FormObject,
  replaceSearchRow,
  searchableAnswers,
  stripAstral,
  writeAnswers,
} from "./forms.ts";
import { organizationForEmail } from "./organizations.ts";

/**
 * End users as osTicket stores them (FACTS §1.5, §2.1): ost_user, ost_user_email (addresses as given,
 * matched case-insensitively by the collation), ost_user_account, the contact form (U) entry with its
 * values and ost_user__cdata, and the `U` row of ost__search.
 */

const USER_FORM: FormObject = {
  type: "U",
  ownFields: new Set(["name", "email"]),
  cdata: { table: "ost_user__cdata", key: "user_id" },
  noun: "contact",
};

export async function loadUsers(em: EntityManager, ids: readonly number[]): Promise<User[]> {
  if (ids.length === 0) return [];
  const marks = ids.map(() => "?").join(",");
  const rows = await query(
    em,
    "SELECT u.id, u.name, u.org_id, u.status, UNIX_TIMESTAMP(u.created) AS created_s," +
      " UNIX_TIMESTAMP(u.updated) AS updated_s, de.address AS email, a.id AS account_id, a.username," +
      " a.status AS account_status, a.timezone, a.lang, UNIX_TIMESTAMP(a.registered) AS registered_s" +
      " FROM ost_user u LEFT JOIN ost_user_email de ON de.id = u.default_email_id" +
      ` LEFT JOIN ost_user_account a ON a.user_id = u.id WHERE u.id IN (${marks})`,
    ids,
  );
  const emails = await query(
    em,
    `SELECT user_id, address FROM ost_user_email WHERE user_id IN (${marks}) ORDER BY id`,
    ids,
  );
  const answers = await answersOf(em, USER_FORM.type, ids, USER_FORM.ownFields);
  const byId = new Map<number, User>();
  for (const r of rows) {
    const id = num(r.id);
    if (byId.has(id)) continue;
    const email = str(r.email);
    const others = emails.filter((e) => num(e.user_id) === id).map((e) => str(e.address));
    const accountStatus = num(r.account_status);
    byId.set(
      id,
      create(UserSchema, {
        id,
        name: str(r.name),
        email,
        emails: [...(email ? [email] : []), ...others.filter((a) => a !== email)],
        orgId: num(r.org_id),
        status: num(r.status),
        answers: answers.get(id) ?? [],
        account:
          r.account_id === null || r.account_id === undefined
            ? undefined
            : {
                username: str(r.username),
                confirmed: (accountStatus & UserAccountStatus.CONFIRMED) !== 0,
                locked: (accountStatus & UserAccountStatus.LOCKED) !== 0,
                passwordResetRequired: (accountStatus & UserAccountStatus.REQUIRE_PASSWD_RESET) !== 0,
                timezone: str(r.timezone),
                lang: str(r.lang),
                registeredAt: fromUnixSeconds(r.registered_s),
              },
        createdAt: fromUnixSeconds(r.created_s),
        updatedAt: fromUnixSeconds(r.updated_s),
      }),
    );
  }
  return inOrderOf(ids, byId);
}

export async function getUser(em: EntityManager, id: number): Promise<User | undefined> {
  const [user] = await loadUsers(em, [id]);
  return user;
}

/** The user owning an e-mail address (case-insensitive, as osTicket's lookup). */
export async function userIdByEmail(em: EntityManager, email: string): Promise<number | undefined> {
  const [row] = await query(em, "SELECT user_id FROM ost_user_email WHERE address = ? AND user_id > 0", [
    email.trim(),
  ]);
  return row ? num(row.user_id) : undefined;
}

/** Users by name (then id), optionally searching names and addresses word by word and by organization. */
export async function listUsers(
  em: EntityManager,
  request: { query: string; orgId: number | undefined; pageSize: number; pageToken: string },
): Promise<{ users: User[]; nextPageToken: string }> {
  const words = searchWords(request.query);
  const conditions = new Conditions();
  if (request.orgId !== undefined) conditions.add("u.org_id = ?", request.orgId);
  conditions.containsEveryWord(
    words,
    "(u.name LIKE ? OR EXISTS (SELECT 1 FROM ost_user_email e WHERE e.user_id = u.id AND e.address LIKE ?))",
  );
  const page = await pageByName(
    em,
    { table: "ost_user", alias: "u" },
    conditions,
    { q: words, org: request.orgId ?? null },
    request,
  );
  return { users: await loadUsers(em, page.ids), nextPageToken: page.nextPageToken };
}

/**
 * osTicket's name clean-up (User::save): tags removed, whitespace collapsed, "Last, First" → "First Last",
 * "Last, First, Suffix" → "First Last Suffix", an e-mail address as name → its mailbox with dots as
 * spaces, in Title Case.
 */
export function cleanUserName(raw: string): string {
  let name = cleanName(raw);
  if (looksLikeEmail(name)) {
    name = (name.split("@")[0] ?? "")
      .replace(/\./g, " ")
      .replace(/\s+/g, " ")
      .trim()
      .replace(/\b\p{L}/gu, (c) => c.toUpperCase());
  }
  const parts = name.split(",").map((p) => p.trim());
  if (parts.length === 2 && parts[0] && parts[1]) name = `${parts[1]} ${parts[0]}`;
  else if (parts.length === 3 && parts[0] && parts[1] && parts[2])
    name = `${parts[1]} ${parts[0]} ${parts[2]}`;
  return name.slice(0, 128);
}

export interface NewUserInput extends UserPatchInput {
  email: string;
}

/**
 * Creates a user in osTicket's order of writes (FACTS §2.1 steps 3-8): the e-mail row, the user row
 * (created/updated NOW(), organization by id or by e-mail domain), the e-mail's user_id, the contact form
 * entry, one value row per stored field (each followed by its cdata upsert), and the U search row.
 */
export async function createUser(em: EntityManager, input: NewUserInput): Promise<number> {
  const email = stripAstral(input.email).trim();
  if (email === "") throw new ConnectError("email is required", Code.InvalidArgument);
  if (!looksLikeEmail(email) || email.length > 255)
    throw new ConnectError("email is not a valid e-mail address", Code.InvalidArgument);
  const name = cleanUserName(input.name);
  if (name === "") throw new ConnectError("name is required", Code.InvalidArgument);
  const form = await baseForm(em, "U");
  const values = await answerValues(em, USER_FORM, form.fields, {
    ...input.answers,
    ...(input.phone ? { phone: input.phone } : {}),
    ...(input.notes ? { notes: input.notes } : {}),
  });
  let orgId = input.orgId;
  if (orgId !== 0) await checkOrganization(em, orgId);
  else orgId = (await organizationForEmail(em, email)) ?? 0;
  if ((await userIdByEmail(em, email)) !== undefined || (await addressTaken(em, email)))
    throw new ConnectError("a user with this e-mail address already exists", Code.AlreadyExists);
  let emailId: number;
  try {
    ({ insertId: emailId } = await execute(em, "INSERT INTO ost_user_email SET user_id = 0, address = ?", [
      email,
    ]));
  } catch (error) {
    if (isDuplicate(error))
      throw new ConnectError("a user with this e-mail address already exists", Code.AlreadyExists);
    throw error;
  }
  const { insertId: userId } = await execute(
    em,
    "INSERT INTO ost_user SET org_id = ?, name = ?, created = NOW(), updated = NOW(), default_email_id = ?",
    [orgId, name, emailId],
  );
  await execute(em, "UPDATE ost_user_email SET user_id = ? WHERE id = ?", [userId, emailId]);
  await writeAnswers(em, USER_FORM, form, userId, values, "new");
  await refreshUserSearch(em, userId);
  return userId;
}

async function checkOrganization(em: EntityManager, orgId: number): Promise<void> {
  const [org] = await query(em, "SELECT id FROM ost_organization WHERE id = ?", [orgId]);
  if (!org) throw new ConnectError(`organization ${orgId} does not exist`, Code.InvalidArgument);
}

async function addressTaken(em: EntityManager, email: string): Promise<boolean> {
  const [row] = await query(em, "SELECT id FROM ost_user_email WHERE address = ?", [email]);
  return row !== undefined;
}

export type UserPatchPath = "name" | "phone" | "notes" | "org_id" | "answers";
const USER_PATHS: readonly UserPatchPath[] = ["name", "phone", "notes", "org_id", "answers"];

export interface UserPatchInput {
  name: string;
  phone: string;
  notes: string;
  orgId: number;
  answers: Readonly<Record<string, string>>;
}

/** Validates a field mask for UpdateUser. */
export function userPatchPaths(paths: readonly string[]): UserPatchPath[] {
  return maskPaths(USER_PATHS, paths);
}

/**
 * Applies the masked fields. `asEndUser` limits the change to what osTicket's client portal allows: the
 * name and contact fields the form lets clients edit (CLIENT_EDIT); notes and the organization are the
 * agents' (PERMISSION_DENIED).
 */
export async function updateUser(
  em: EntityManager,
  userId: number,
  paths: readonly UserPatchPath[],
  patch: UserPatchInput,
  asEndUser: boolean,
): Promise<void> {
  const [user] = await query(em, "SELECT id FROM ost_user WHERE id = ? FOR UPDATE", [userId]);
  if (!user) throw new ConnectError("user not found", Code.NotFound);
  if (asEndUser && (paths.includes("notes") || paths.includes("org_id")))
    throw new ConnectError("end users cannot change notes or organization", Code.PermissionDenied);
  const form = await baseForm(em, "U");
  const answers: Record<string, string> = {};
  if (paths.includes("answers")) Object.assign(answers, patch.answers);
  if (paths.includes("phone")) answers.phone = patch.phone;
  if (paths.includes("notes")) answers.notes = patch.notes;
  const values = await answerValues(em, USER_FORM, form.fields, answers);
  if (asEndUser) {
    for (const field of form.fields) {
      if (values.has(field.id) && (field.flags & FieldFlag.CLIENT_EDIT) === 0)
        throw new ConnectError(`end users cannot change "${field.name}"`, Code.PermissionDenied);
    }
  }
  if (paths.includes("name")) {
    const name = cleanUserName(patch.name);
    if (name === "") throw new ConnectError("name is required", Code.InvalidArgument);
    await execute(em, "UPDATE ost_user SET name = ? WHERE id = ?", [name, userId]);
  }
  if (paths.includes("org_id")) {
    if (patch.orgId !== 0) await checkOrganization(em, patch.orgId);
    await execute(em, "UPDATE ost_user SET org_id = ? WHERE id = ?", [patch.orgId, userId]);
  }
  await writeAnswers(em, USER_FORM, form, userId, values, "changed");
  await execute(em, "UPDATE ost_user SET updated = NOW() WHERE id = ?", [userId]);
  await refreshUserSearch(em, userId);
}

/**
 * REPLACE the U search row: title = name; content = the searchable answers and the default address on one
 * line, then every address on its own line (a user without phone or notes: " <email>\n<email>").
 */
export async function refreshUserSearch(em: EntityManager, userId: number): Promise<void> {
  const [user] = await query(
    em,
    "SELECT u.name, de.address FROM ost_user u LEFT JOIN ost_user_email de ON de.id = u.default_email_id WHERE u.id = ?",
    [userId],
  );
  if (!user) return;
  const searchable = await searchableAnswers(em, "U", userId);
  const emails = await query(em, "SELECT address FROM ost_user_email WHERE user_id = ? ORDER BY id", [
    userId,
  ]);
  const content = `${[searchable.join(" "), str(user.address)].join(" ")}\n${emails.map((e) => str(e.address)).join("\n")}`;
  await replaceSearchRow(em, "U", userId, str(user.name), content);
}

function isDuplicate(error: unknown): boolean {
  return typeof error === "object" && error !== null && "code" in error && error.code === "ER_DUP_ENTRY";
}
