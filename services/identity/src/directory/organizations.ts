import { create } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import type { EntityManager } from "@ostmesh/db";
import { execute, query } from "@ostmesh/db";
import { num, str } from "@ostmesh/kit/auth/index.ts";
import type { StoredAnswer } from "@ostmesh/kit/osticket/forms/answers.ts";
import {
  type Organization,
  OrganizationSchema,
} from "@ostmesh/proto/gen/osticket/identity/v1/identity_pb.js";
import { fromUnixSeconds } from "../times.ts";
import { Conditions, cleanName, inOrderOf, maskPaths, pageByName, searchWords } from "./common.ts";
import {
  answersOf,
  answerValues,
  baseForm,
  type FormObject,
  replaceSearchRow,
  searchableAnswers,
  writeAnswers,
} from "./forms.ts";

/**
 * Organizations as osTicket stores them (FACTS §1.5): ost_organization (name, manager `s<id>`/`t<id>`,
 * status bits, comma-separated e-mail domains, TIMESTAMP created/updated), the organization form (O) entry
 * with values and ost_organization__cdata, and the `O` row of ost__search.
 */

/** The organization form (O): its own name column, the rest in the form entry and ost_organization__cdata. */
export const ORG_FORM: FormObject = {
  type: "O",
  ownFields: new Set(["name"]),
  cdata: { table: "ost_organization__cdata", key: "org_id" },
  noun: "organization",
};
/** Every defined ost_organization.status bit. */
const ORG_STATUS_MASK = 0x1f;

export async function loadOrganizations(em: EntityManager, ids: readonly number[]): Promise<Organization[]> {
  if (ids.length === 0) return [];
  const rows = await query(
    em,
    "SELECT id, name, manager, status, domain, UNIX_TIMESTAMP(created) AS created_s," +
      ` UNIX_TIMESTAMP(updated) AS updated_s FROM ost_organization WHERE id IN (${ids.map(() => "?").join(",")})`,
    ids,
  );
  const answers = await answersOf(em, ORG_FORM.type, ids, ORG_FORM.ownFields);
  const byId = new Map(
    rows.map((r) => [
      num(r.id),
      create(OrganizationSchema, {
        id: num(r.id),
        name: str(r.name),
        manager: str(r.manager),
        status: num(r.status),
        domains: splitDomains(str(r.domain)),
        answers: answers.get(num(r.id)) ?? [],
        createdAt: fromUnixSeconds(r.created_s),
        updatedAt: fromUnixSeconds(r.updated_s),
      }),
    ]),
  );
  return inOrderOf(ids, byId);
}

export async function getOrganization(em: EntityManager, id: number): Promise<Organization | undefined> {
  const [org] = await loadOrganizations(em, [id]);
  return org;
}

function splitDomains(text: string): string[] {
  return text
    .split(",")
    .map((d) => d.trim())
    .filter((d) => d !== "");
}

/**
 * The organization a new user with this address joins (osTicket's Organization::forDomain): one whose
 * domain list names the address' domain, or, for entries starting with a dot, a parent domain of it.
 */
export async function organizationForEmail(em: EntityManager, email: string): Promise<number | undefined> {
  const domain = email.split("@")[1]?.trim().toLowerCase();
  if (!domain) return undefined;
  const rows = await query(em, "SELECT id, domain FROM ost_organization WHERE domain > '' ORDER BY id");
  for (const row of rows) {
    for (const entry of splitDomains(str(row.domain)).map((d) => d.toLowerCase())) {
      if (entry.startsWith(".") ? domain.endsWith(entry) : domain === entry) return num(row.id);
    }
  }
  return undefined;
}

/** Organizations by name (then id), optionally searching names and domains word by word. */
export async function listOrganizations(
  em: EntityManager,
  request: { query: string; pageSize: number; pageToken: string },
): Promise<{ organizations: Organization[]; nextPageToken: string }> {
  const words = searchWords(request.query);
  const conditions = new Conditions().containsEveryWord(words, "(o.name LIKE ? OR o.domain LIKE ?)");
  const page = await pageByName(
    em,
    { table: "ost_organization", alias: "o" },
    conditions,
    { q: words },
    request,
  );
  return { organizations: await loadOrganizations(em, page.ids), nextPageToken: page.nextPageToken };
}

export interface OrganizationInput {
  name: string;
  domains: readonly string[];
  manager: string;
  status: number;
  answers: Readonly<Record<string, string>>;
}

async function checkName(em: EntityManager, raw: string, exceptId: number): Promise<string> {
  const name = cleanName(raw);
  if (name === "") throw new ConnectError("name is required", Code.InvalidArgument);
  if (name.length > 128) throw new ConnectError("name is longer than 128 characters", Code.InvalidArgument);
  const [dup] = await query(em, "SELECT id FROM ost_organization WHERE name = ? AND id <> ?", [
    name,
    exceptId,
  ]);
  if (dup) throw new ConnectError("an organization with this name already exists", Code.AlreadyExists);
  return name;
}

function checkDomains(domains: readonly string[]): string {
  const clean = [...new Set(domains.map((d) => d.trim()).filter((d) => d !== ""))];
  for (const d of clean) {
    if (!/^\.?[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+$/.test(d))
      throw new ConnectError(`domains: "${d}" is not a domain name`, Code.InvalidArgument);
  }
  const joined = clean.join(",");
  if (joined.length > 256)
    throw new ConnectError("domains are longer than 256 characters", Code.InvalidArgument);
  return joined;
}

async function checkManager(em: EntityManager, manager: string): Promise<string> {
  const value = manager.trim();
  if (value === "") return "";
  const match = /^([st])(\d+)$/.exec(value);
  if (!match)
    throw new ConnectError('manager must be "s<staff id>", "t<team id>" or empty', Code.InvalidArgument);
  const [row] =
    match[1] === "s"
      ? await query(em, "SELECT staff_id FROM ost_staff WHERE staff_id = ?", [Number(match[2])])
      : await query(em, "SELECT team_id FROM ost_team WHERE team_id = ?", [Number(match[2])]);
  if (!row) throw new ConnectError(`manager ${value} does not exist`, Code.InvalidArgument);
  return value;
}

function checkStatus(status: number): number {
  if ((status & ~ORG_STATUS_MASK) !== 0)
    throw new ConnectError("status has bits osTicket does not define", Code.InvalidArgument);
  return status;
}

/** Creates an organization: the row, the O form entry with one value per stored field, cdata, search. */
export async function createOrganization(em: EntityManager, input: OrganizationInput): Promise<number> {
  const name = await checkName(em, input.name, 0);
  const domain = checkDomains(input.domains);
  const manager = await checkManager(em, input.manager);
  const status = checkStatus(input.status);
  const form = await baseForm(em, "O");
  const values = await answerValues(em, ORG_FORM, form.fields, input.answers);
  const { insertId: orgId } = await execute(
    em,
    "INSERT INTO ost_organization SET name = ?, manager = ?, status = ?, domain = ?, created = NOW(), updated = NOW()",
    [name, manager, status, domain],
  );
  await writeAnswers(em, ORG_FORM, form, orgId, values, "new");
  await refreshOrganizationSearch(em, orgId);
  return orgId;
}

export type OrganizationPatchPath = "name" | "domains" | "manager" | "status" | "answers";
const ORG_PATHS: readonly OrganizationPatchPath[] = ["name", "domains", "manager", "status", "answers"];

export function organizationPatchPaths(paths: readonly string[]): OrganizationPatchPath[] {
  return maskPaths(ORG_PATHS, paths);
}

export async function updateOrganization(
  em: EntityManager,
  orgId: number,
  paths: readonly OrganizationPatchPath[],
  patch: OrganizationInput,
): Promise<void> {
  const [org] = await query(em, "SELECT id FROM ost_organization WHERE id = ? FOR UPDATE", [orgId]);
  if (!org) throw new ConnectError("organization not found", Code.NotFound);
  const sets: string[] = [];
  const params: unknown[] = [];
  if (paths.includes("name")) {
    sets.push("name = ?");
    params.push(await checkName(em, patch.name, orgId));
  }
  if (paths.includes("domains")) {
    sets.push("domain = ?");
    params.push(checkDomains(patch.domains));
  }
  if (paths.includes("manager")) {
    sets.push("manager = ?");
    params.push(await checkManager(em, patch.manager));
  }
  if (paths.includes("status")) {
    sets.push("status = ?");
    params.push(checkStatus(patch.status));
  }
  const form = await baseForm(em, "O");
  const values = paths.includes("answers")
    ? await answerValues(em, ORG_FORM, form.fields, patch.answers)
    : new Map<number, StoredAnswer>();
  // updated is a TIMESTAMP ... ON UPDATE column; set it explicitly so answer-only changes bump it too.
  sets.push("updated = NOW()");
  await execute(em, `UPDATE ost_organization SET ${sets.join(", ")} WHERE id = ?`, [...params, orgId]);
  await writeAnswers(em, ORG_FORM, form, orgId, values, "changed");
  await refreshOrganizationSearch(em, orgId);
}

/** REPLACE the O search row: title = name, content = the searchable answers. */
export async function refreshOrganizationSearch(em: EntityManager, orgId: number): Promise<void> {
  const [org] = await query(em, "SELECT name FROM ost_organization WHERE id = ?", [orgId]);
  if (!org) return;
  const content = (await searchableAnswers(em, "O", orgId)).join(" ");
  await replaceSearchRow(em, "O", orgId, str(org.name), content);
}
