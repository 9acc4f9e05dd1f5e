import type { ColumnDef, ColumnDefault, IndexColumn, IndexDef, TableDef } from "./types.ts";

export function quoteIdentifier(name: string): string {
  return `\`${name.replaceAll("`", "``")}\``;
}

export function quoteString(value: string): string {
  return `'${value.replaceAll("\\", "\\\\").replaceAll("'", "''")}'`;
}

function renderDefault(value: ColumnDefault): string {
  if (value === null) return "NULL";
  if (typeof value === "number") return String(value);
  if (typeof value === "string") return quoteString(value);
  return value.sql;
}

export function renderColumn(column: ColumnDef): string {
  const parts = [quoteIdentifier(column.name), column.type];
  if (column.charset) parts.push(`CHARACTER SET ${column.charset}`);
  if (column.collation) parts.push(`COLLATE ${column.collation}`);
  parts.push(column.nullable ? "NULL" : "NOT NULL");
  if (column.default !== undefined) parts.push(`DEFAULT ${renderDefault(column.default)}`);
  if (column.onUpdate) parts.push(`ON UPDATE ${column.onUpdate}`);
  if (column.autoIncrement) parts.push("AUTO_INCREMENT");
  if (column.comment) parts.push(`COMMENT ${quoteString(column.comment)}`);
  return parts.join(" ");
}

function renderIndexColumn(column: string | IndexColumn): string {
  if (typeof column === "string") return quoteIdentifier(column);
  return column.length ? `${quoteIdentifier(column.name)}(${column.length})` : quoteIdentifier(column.name);
}

export function renderIndex(index: IndexDef): string {
  const columns = `(${index.columns.map(renderIndexColumn).join(",")})`;
  switch (index.kind) {
    case "primary":
      return `PRIMARY KEY ${columns}`;
    case "unique":
      return `UNIQUE KEY ${quoteIdentifier(index.name)} ${columns}`;
    case "fulltext":
      return `FULLTEXT KEY ${quoteIdentifier(index.name)} ${columns}`;
    default:
      return `KEY ${quoteIdentifier(index.name)} ${columns}`;
  }
}

/** `CREATE TABLE` for one described table (`IF NOT EXISTS` so a half-done bootstrap can resume). */
export function renderCreateTable(table: TableDef, options: { ifNotExists?: boolean } = {}): string {
  const body = [...table.columns.map(renderColumn), ...table.indexes.map(renderIndex)];
  return [
    `CREATE TABLE ${options.ifNotExists ? "IF NOT EXISTS " : ""}${quoteIdentifier(table.name)} (`,
    body.map((line) => `  ${line}`).join(",\n"),
    `) ENGINE=${table.engine} DEFAULT CHARSET=${table.charset} COLLATE=${table.collation}`,
  ].join("\n");
}
