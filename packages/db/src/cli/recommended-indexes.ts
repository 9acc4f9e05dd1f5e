/**
 * Opt-in additive indexes on osTicket's tables (see ../indexes.ts for each one and why).
 *
 *   DATABASE_URL=mysql://... node packages/db/src/cli/recommended-indexes.ts list|apply|drop
 */

import { applyRecommendedIndexes, dropRecommendedIndexes, recommendedIndexes } from "../indexes.ts";
import { createOrm } from "../orm.ts";

const command = process.argv[2] ?? "list";
if (command === "list") {
  for (const i of recommendedIndexes)
    console.log(`${i.table}.${i.name} (${i.columns.join(", ")})\n  ${i.why}\n`);
} else if (command === "apply" || command === "drop") {
  const orm = await createOrm({
    url: process.env.DATABASE_URL ?? "mysql://root@127.0.0.1:3306/osticket",
    pool: { max: 1 },
  });
  try {
    const report =
      command === "apply" ? await applyRecommendedIndexes(orm) : await dropRecommendedIndexes(orm);
    for (const r of report)
      console.log(`${r.table}.${r.name}: ${r.status}${r.coveredBy ? ` by ${r.coveredBy}` : ""}`);
  } finally {
    await orm.close();
  }
} else {
  console.error("usage: recommended-indexes.ts list|apply|drop");
  process.exitCode = 2;
}
