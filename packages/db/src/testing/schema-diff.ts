import type { MikroORM } from "@mikro-orm/mysql";

/**
 * What MikroORM's schema comparison would change to make the database match the registered entities,
 * grouped by table (`{}` = no difference). Tables without an entity are not considered.
 */
export async function schemaDifferences(orm: MikroORM): Promise<Record<string, string[]>> {
  const sql = await orm.schema.getUpdateSchemaSQL({ wrap: false, dropTables: false, safe: false });
  const out: Record<string, string[]> = {};
  for (const statement of sql.split("\n").map((s) => s.trim())) {
    if (!statement) continue;
    const table = /`([^`]+)`/.exec(statement)?.[1] ?? "?";
    out[table] = [...(out[table] ?? []), statement];
  }
  return out;
}
