/**
 * One-off developer tool: reads a database holding a real, freshly installed osTicket 1.18.1 and writes
 * ostmesh's own typed description of it — table descriptions (../schema/tables), seed rows
 * (../bootstrap/seed) and MikroORM entities (../entities/osticket). Run it again only to re-derive after
 * checking a new osTicket release; the committed output is what the product uses.
 *
 *   npx node packages/db/src/dev/derive-schema.ts mysql://root@127.0.0.1:3306/<fresh-install-db>
 */
import { createHash } from "node:crypto";
import { mkdir, writeFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import mysql from "mysql2/promise";
import type { ColumnDef, ColumnDefault, IndexDef, TableDef } from "../schema/types.ts";

const url = process.argv[2];
if (!url) throw new Error("usage: derive-schema.ts <database url of a fresh osTicket install>");

const here = (p: string) => fileURLToPath(new URL(p, import.meta.url));

/** Entity groups: one module per group, for tables and entities alike. */
const GROUPS: Record<string, string[]> = {
  ticket: [
    "ticket",
    "ticket__cdata",
    "ticket_status",
    "ticket_priority",
    "lock",
    "draft",
    "task",
    "task__cdata",
  ],
  thread: [
    "thread",
    "thread_entry",
    "thread_entry_email",
    "thread_entry_merge",
    "thread_event",
    "thread_collaborator",
    "thread_referral",
    "event",
    "note",
  ],
  user: ["user", "user_email", "user_account", "user__cdata", "organization", "organization__cdata"],
  staff: ["staff", "staff_dept_access", "department", "team", "team_member", "role", "group", "session"],
  helpdesk: ["help_topic", "help_topic_form", "sla", "schedule", "schedule_entry", "sequence", "config"],
  file: ["file", "file_chunk", "attachment"],
  form: ["form", "form_field", "form_entry", "form_entry_values", "list", "list_items"],
  email: ["email", "email_account", "email_template", "email_template_group", "canned_response", "content"],
  filter: ["filter", "filter_rule", "filter_action"],
  queue: [
    "queue",
    "queue_column",
    "queue_columns",
    "queue_config",
    "queue_export",
    "queue_sort",
    "queue_sorts",
  ],
  system: [
    "api_key",
    "syslog",
    "_search",
    "plugin",
    "plugin_instance",
    "translation",
    "faq",
    "faq_category",
    "faq_topic",
  ],
};

/** Entity names that would otherwise shadow well-known globals or read ambiguously. */
const ENTITY_NAMES: Record<string, string> = {
  file: "AttachmentFile",
  event: "EventType",
  lock: "TicketLock",
  group: "StaffGroup",
  session: "PhpSession",
  _search: "SearchIndex",
  config: "ConfigItem",
  list: "CustomList",
  list_items: "CustomListItem",
  note: "QuickNote",
  plugin: "Plugin",
  ticket__cdata: "TicketCdata",
  user__cdata: "UserCdata",
  organization__cdata: "OrganizationCdata",
  task__cdata: "TaskCdata",
  faq: "Faq",
  sla: "Sla",
  api_key: "ApiKey",
};

const RUNTIME_TABLES = new Set([
  "_search",
  "ticket__cdata",
  "user__cdata",
  "organization__cdata",
  "task__cdata",
]);

const pascal = (s: string) =>
  s
    .split("_")
    .filter(Boolean)
    .map((w) => w[0]!.toUpperCase() + w.slice(1))
    .join("");
const camel = (s: string) => {
  const p = pascal(s);
  return p[0]!.toLowerCase() + p.slice(1);
};

interface Col {
  TABLE_NAME: string;
  COLUMN_NAME: string;
  COLUMN_TYPE: string;
  DATA_TYPE: string;
  IS_NULLABLE: string;
  COLUMN_DEFAULT: string | null;
  EXTRA: string;
  CHARACTER_SET_NAME: string | null;
  COLLATION_NAME: string | null;
  COLUMN_COMMENT: string;
}

function parseDefault(raw: string | null, dataType: string): ColumnDefault | undefined {
  if (raw === null) return undefined;
  if (raw === "NULL") return null;
  if (raw.startsWith("'") && raw.endsWith("'"))
    return raw.slice(1, -1).replaceAll("''", "'").replaceAll("\\\\", "\\");
  if (/^-?\d+(\.\d+)?$/.test(raw) && !/char|text|enum|date|time/.test(dataType)) return Number(raw);
  return { sql: raw };
}

const conn = await mysql.createConnection({ uri: url, dateStrings: true, supportBigNumbers: true });
const db = new URL(url).pathname.slice(1);
const [tableRows] = await conn.query<mysql.RowDataPacket[]>(
  "SELECT TABLE_NAME, ENGINE, TABLE_COLLATION FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? ORDER BY TABLE_NAME",
  [db],
);
const [colRows] = await conn.query<mysql.RowDataPacket[]>(
  "SELECT * FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = ? ORDER BY TABLE_NAME, ORDINAL_POSITION",
  [db],
);
const [statRows] = await conn.query<mysql.RowDataPacket[]>(
  "SELECT TABLE_NAME, INDEX_NAME, NON_UNIQUE, COLUMN_NAME, SUB_PART, INDEX_TYPE FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = ? ORDER BY TABLE_NAME, INDEX_NAME, SEQ_IN_INDEX",
  [db],
);
const [charsets] = await conn.query<mysql.RowDataPacket[]>(
  "SELECT COLLATION_NAME, CHARACTER_SET_NAME FROM information_schema.COLLATIONS",
);
const charsetOf = new Map(charsets.map((r) => [String(r.COLLATION_NAME), String(r.CHARACTER_SET_NAME)]));

const tables = new Map<string, TableDef>();
for (const t of tableRows) {
  const name = String(t.TABLE_NAME);
  const collation = String(t.TABLE_COLLATION);
  const short = name.replace(/^ost_/, "");
  const columns: ColumnDef[] = (colRows as unknown as Col[])
    .filter((c) => c.TABLE_NAME === name)
    .map((c) => {
      const col: ColumnDef = { name: c.COLUMN_NAME, type: c.COLUMN_TYPE };
      if (c.IS_NULLABLE === "YES") col.nullable = true;
      const def = parseDefault(c.COLUMN_DEFAULT, c.DATA_TYPE);
      if (def !== undefined) col.default = def;
      if (/auto_increment/i.test(c.EXTRA)) col.autoIncrement = true;
      const onUpdate = /on update (\S+)/i.exec(c.EXTRA);
      if (onUpdate) col.onUpdate = onUpdate[1]!;
      if (c.COLUMN_COMMENT) col.comment = c.COLUMN_COMMENT;
      if (c.COLLATION_NAME && c.COLLATION_NAME !== collation) {
        col.charset = c.CHARACTER_SET_NAME ?? undefined;
        col.collation = c.COLLATION_NAME;
      }
      return col;
    });
  // Index order as in SHOW CREATE TABLE (creation order).
  const [[create]] = (await conn.query<mysql.RowDataPacket[]>(
    `SHOW CREATE TABLE \`${name}\``,
  )) as unknown as [mysql.RowDataPacket[]];
  const ddl = String(create?.["Create Table"]);
  const order = [...ddl.matchAll(/^\s+(PRIMARY KEY|(?:UNIQUE |FULLTEXT )?KEY `([^`]+)`)/gm)].map((m) =>
    m[1] === "PRIMARY KEY" ? "PRIMARY" : m[2]!,
  );
  const stats = statRows.filter((s) => s.TABLE_NAME === name);
  const indexes: IndexDef[] = order.map((indexName) => {
    const parts = stats.filter((s) => s.INDEX_NAME === indexName);
    const first = parts[0]!;
    const kind: IndexDef["kind"] =
      indexName === "PRIMARY"
        ? "primary"
        : first.INDEX_TYPE === "FULLTEXT"
          ? "fulltext"
          : Number(first.NON_UNIQUE) === 0
            ? "unique"
            : "index";
    return {
      name: indexName,
      kind,
      columns: parts.map((p) =>
        p.SUB_PART == null
          ? String(p.COLUMN_NAME)
          : { name: String(p.COLUMN_NAME), length: Number(p.SUB_PART) },
      ),
    };
  });
  tables.set(short, {
    name,
    engine: String(t.ENGINE) === "MyISAM" ? "MyISAM" : "InnoDB",
    charset: charsetOf.get(collation) ?? "utf8mb3",
    collation,
    columns,
    indexes,
    origin: RUNTIME_TABLES.has(short) ? "runtime" : "install",
  });
}

const grouped = new Set(Object.values(GROUPS).flat());
const missing = [...tables.keys()].filter((t) => !grouped.has(t));
if (missing.length) throw new Error(`tables without a group: ${missing.join(", ")}`);

const banner = (what: string) =>
  `// ${what} of osTicket 1.18.1, derived from a fresh install by src/dev/derive-schema.ts.\n` +
  "// Edit by re-deriving, not by hand.\n";

const tsValue = (v: unknown): string => JSON.stringify(v);

/* ---------- table descriptions ---------- */
await mkdir(here("../schema/tables"), { recursive: true });
for (const [group, names] of Object.entries(GROUPS)) {
  let out = `${banner("Table descriptions")}import type { TableDef } from "../types.ts";\n`;
  for (const short of names) {
    const t = tables.get(short)!;
    const note =
      t.origin === "runtime" ? "\n/** Created (and dropped/rebuilt) by osTicket's PHP at run time. */" : "";
    out += `${note}\nexport const ${camel(short === "_search" ? "search" : short)}Table: TableDef = ${tsValue(t)};\n`;
  }
  await writeFile(here(`../schema/tables/${group}.ts`), out);
}
let tablesIndex = `${banner("Every table")}import type { TableDef } from "../types.ts";\n`;
for (const [group, names] of Object.entries(GROUPS)) {
  tablesIndex += `import { ${names.map((n) => `${camel(n === "_search" ? "search" : n)}Table`).join(", ")} } from "./${group}.ts";\n`;
}
tablesIndex += `\n/** All ${tables.size} tables of a fresh osTicket 1.18.1 install, in name order. */\nexport const osticketTables: readonly TableDef[] = [\n`;
for (const short of [...tables.keys()])
  tablesIndex += `  ${camel(short === "_search" ? "search" : short)}Table,\n`;
tablesIndex += "];\n";
await writeFile(here("../schema/tables/index.ts"), tablesIndex);

/* ---------- seed rows ---------- */
// DATETIME/TIMESTAMP values set at install time become NOW(); zero dates and DATE/TIME values stay.
await mkdir(here("../bootstrap/seed"), { recursive: true });
const seedTables: string[] = [];
for (const [group, names] of Object.entries(GROUPS)) {
  let out = `${banner("Seed rows")}import type { SeedTable } from "./types.ts";\n`;
  let any = false;
  for (const short of names) {
    const t = tables.get(short)!;
    const pk = t.indexes.find((i) => i.kind === "primary");
    const orderBy = pk ? pk.columns.map((c) => `\`${typeof c === "string" ? c : c.name}\``).join(", ") : "1";
    const [rows] = await conn.query<mysql.RowDataPacket[]>(`SELECT * FROM \`${t.name}\` ORDER BY ${orderBy}`);
    if (rows.length === 0) continue;
    any = true;
    seedTables.push(short);
    const cols = t.columns.map((c) => c.name);
    const kinds = t.columns.map((c) => c.type);
    const data = rows.map((r) =>
      cols.map((c, i) => {
        const v = r[c];
        const type = kinds[i]!;
        if (v === null) return null;
        if (Buffer.isBuffer(v)) return { base64: v.toString("base64") };
        if (/^(datetime|timestamp)/.test(type) && typeof v === "string" && !v.startsWith("0000-00-00"))
          return { now: true };
        if (typeof v === "bigint") return Number(v);
        return v;
      }),
    );
    out += `\nexport const ${camel(short)}Seed: SeedTable = {\n  table: ${tsValue(t.name)},\n  columns: ${tsValue(cols)},\n  rows: [\n`;
    for (const row of data) out += `    ${tsValue(row)},\n`;
    out += "  ],\n};\n";
  }
  if (any) await writeFile(here(`../bootstrap/seed/${group}.ts`), out);
}
const seedGroups = Object.entries(GROUPS).filter(([, names]) => names.some((n) => seedTables.includes(n)));
let seedIndex = `${banner("Every seed table")}import type { SeedTable } from "./types.ts";\n`;
for (const [group, names] of seedGroups) {
  seedIndex += `import { ${names
    .filter((n) => seedTables.includes(n))
    .map((n) => `${camel(n)}Seed`)
    .join(", ")} } from "./${group}.ts";\n`;
}
seedIndex += `\n/** Rows of a fresh install, per table, in name order. */\nexport const osticketSeed: readonly SeedTable[] = [\n`;
for (const short of [...tables.keys()].filter((t) => seedTables.includes(t)))
  seedIndex += `  ${camel(short)}Seed,\n`;
seedIndex += "];\n";
await writeFile(here("../bootstrap/seed/index.ts"), seedIndex);

/* ---------- entities ---------- */
function propertyFor(c: ColumnDef, t: TableDef): string {
  const type = c.type;
  const base = type.replace(/\(.*$/, "").replace(/ unsigned$/, "");
  const unsigned = / unsigned$/.test(type);
  let b: string;
  const len = /\((\d+)\)/.exec(type)?.[1];
  switch (base) {
    case "int":
      b = "p.integer()";
      break;
    case "tinyint":
      // MikroORM reads a signed tinyint(1) as a boolean column; keep it a number, as osTicket stores it.
      b = type === "tinyint(1)" ? 'p.tinyint().columnType("tinyint(1)")' : "p.tinyint()";
      break;
    case "smallint":
      b = "p.smallint()";
      break;
    case "mediumint":
      b = "p.mediumint()";
      break;
    case "bigint":
      b = 'p.bigint("number")';
      break;
    case "varchar":
      b = `p.string().length(${len})`;
      break;
    case "char":
      b = `p.character().length(${len})`;
      break;
    case "text":
      b = "p.text()";
      break;
    case "tinytext":
    case "mediumtext":
    case "longtext":
      b = `p.text().columnType(${tsValue(base)})`;
      break;
    case "datetime":
    case "timestamp":
    case "date":
    case "time":
      b = `p.type(DbDateTime).columnType(${tsValue(base)})`;
      break;
    case "enum": {
      const items = [...type.matchAll(/'((?:[^']|'')*)'/g)].map((m) => m[1]!.replaceAll("''", "'"));
      b = `p.enum(${tsValue(items)})`;
      break;
    }
    case "blob":
    case "longblob":
    case "mediumblob":
      b = `p.blob().columnType(${tsValue(base)})`;
      break;
    default:
      throw new Error(`no mapping for ${t.name}.${c.name} ${type}`);
  }
  const pk = t.indexes.find((i) => i.kind === "primary");
  const pkCols = (pk?.columns ?? []).map((x) => (typeof x === "string" ? x : x.name));
  const numeric = /int$/.test(base);
  // MikroORM assumes integer primary keys are unsigned; some of osTicket's are not.
  if (unsigned) b += ".unsigned()";
  else if (numeric && pkCols.includes(c.name)) b += ".unsigned(false)";
  const prop = camel(c.name);
  if (prop !== c.name) b += `.name(${tsValue(c.name)})`;
  if (pkCols.includes(c.name)) b += ".primary()";
  if (c.autoIncrement) b += ".autoincrement()";
  else if (pkCols.length === 1 && pkCols[0] === c.name) b += ".autoincrement(false)";
  if (c.nullable) b += ".nullable()";
  if (c.default !== undefined && c.default !== null) {
    if (typeof c.default === "object") b += `.defaultRaw(${tsValue(c.default.sql)})`;
    else if (base === "bigint") b += `.defaultRaw(${tsValue(String(c.default))})`;
    else b += `.default(${tsValue(c.default)})`;
  }
  if (c.onUpdate) b += `.extra(${tsValue(`on update ${c.onUpdate}`)})`;
  if (c.collation) b += `.collation(${tsValue(c.collation)})`;
  if (c.comment) b += `.comment(${tsValue(c.comment)})`;
  return `    ${/^[a-z_$][\w$]*$/i.test(prop) ? prop : tsValue(prop)}: ${b},`;
}

await mkdir(here("../entities/osticket"), { recursive: true });
const entityNames: string[] = [];
for (const [group, names] of Object.entries(GROUPS)) {
  let out = `${banner("MikroORM entities")}import { defineEntity, type InferEntity, p } from "@mikro-orm/core";\n`;
  if (names.some((n) => tables.get(n)!.columns.some((c) => /^(datetime|timestamp|date|time)/.test(c.type))))
    out += 'import { DbDateTime } from "../types.ts";\n';
  for (const short of names) {
    const t = tables.get(short)!;
    const entity = ENTITY_NAMES[short] ?? pascal(short);
    entityNames.push(entity);
    const cdata = short.endsWith("__cdata");
    const cols = cdata ? t.columns : t.columns;
    const idx = t.indexes.filter((i) => i.kind !== "primary");
    const byProp = (cs: IndexDef["columns"]) => cs.map((c) => camel(typeof c === "string" ? c : c.name));
    const plain = idx.filter((i) => i.kind === "index" || i.kind === "fulltext");
    const uniques = idx.filter((i) => i.kind === "unique");
    const doc = cdata
      ? `\n/**\n * \`${t.name}\`: osTicket's materialized copy of the base form's answers. osTicket drops and rebuilds it\n * whenever that form's fields change, so only the key and the stock columns are mapped; treat it as\n * disposable and write the real answers to form_entry_values first.\n */`
      : short === "_search"
        ? `\n/** \`${t.name}\`: osTicket's full-text search index (created by its PHP, not by install SQL). */`
        : `\n/** \`${t.name}\` */`;
    out += `${doc}\nexport const ${entity} = defineEntity({\n  name: ${tsValue(entity)},\n  tableName: ${tsValue(t.name)},\n  properties: {\n`;
    for (const c of cols) out += `${propertyFor(c, t)}\n`;
    out += "  },\n";
    const idxLine = (i: IndexDef) => {
      const hasLen = i.columns.some((c) => typeof c !== "string" && c.length);
      const parts = [`name: ${tsValue(i.name)}`, `properties: ${tsValue(byProp(i.columns))}`];
      if (i.kind === "fulltext") parts.push('type: "fulltext"');
      if (hasLen)
        parts.push(
          `columns: ${tsValue(i.columns.map((c) => (typeof c === "string" ? { name: c } : { name: c.name, length: c.length })))}`,
        );
      return `{ ${parts.join(", ")} }`;
    };
    if (plain.length) out += `  indexes: [\n${plain.map((i) => `    ${idxLine(i)},`).join("\n")}\n  ],\n`;
    if (uniques.length) out += `  uniques: [\n${uniques.map((i) => `    ${idxLine(i)},`).join("\n")}\n  ],\n`;
    out += `});\nexport type ${entity} = InferEntity<typeof ${entity}>;\n`;
  }
  await writeFile(here(`../entities/osticket/${group}.ts`), out);
}
let entIndex = `${banner("Every osTicket entity")}`;
const exportsByGroup: [string, string[]][] = Object.entries(GROUPS).map(([g, names]) => [
  g,
  names.map((n) => ENTITY_NAMES[n] ?? pascal(n)),
]);
for (const [group, names] of exportsByGroup)
  entIndex += `import { ${names.join(", ")} } from "./${group}.ts";\n`;
for (const [group] of exportsByGroup) entIndex += `export * from "./${group}.ts";\n`;
entIndex += `\n/** One entity per osTicket table (${entityNames.length}). */\nexport const osticketEntities = [\n${entityNames.map((n) => `  ${n},`).join("\n")}\n];\n`;
await writeFile(here("../entities/osticket/index.ts"), entIndex);

await conn.end();
const digest = createHash("sha256")
  .update(JSON.stringify([...tables.values()]))
  .digest("hex")
  .slice(0, 12);
console.log(
  `${tables.size} tables, ${seedTables.length} seeded, ${entityNames.length} entities (schema ${digest})`,
);
