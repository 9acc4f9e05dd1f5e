import type { MikroORM } from "@mikro-orm/mysql";

/**
 * Applies every pending ostmesh migration (ostmesh_* tables only) and returns the names it ran.
 * Safe to call on every start: already applied migrations are skipped.
 */
export async function runMigrations(orm: MikroORM): Promise<string[]> {
  const done = await orm.migrator.up();
  return done.map((m) => m.name);
}

/** Names of the migrations not yet applied to this database. */
export async function pendingMigrations(orm: MikroORM): Promise<string[]> {
  const pending = await orm.migrator.getPending();
  return pending.map((m) => m.name);
}
