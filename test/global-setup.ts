import { randomBytes } from "node:crypto";
import { dropRunDatabases, loadDump, templateDatabaseName } from "../packages/db/src/testing/scratch.ts";

/**
 * One run id per `vitest run`: every database and NATS stream a test creates carries it, so parallel
 * runs on one machine never collide, and teardown removes exactly what this run made.
 */
export default async function setup(): Promise<() => Promise<void>> {
  const run = process.env.OSTMESH_TEST_RUN ?? `${Date.now().toString(36)}${randomBytes(2).toString("hex")}`;
  process.env.OSTMESH_TEST_RUN = run;
  await loadDump(templateDatabaseName(run));
  return async () => {
    if (process.env.OSTMESH_KEEP_TEST_DATA) return;
    await dropRunDatabases(run);
  };
}
