/**
 * Installs a fresh osTicket into an empty database (or only migrates an existing one) and prints the
 * admin login and API key.
 *
 *   DATABASE_URL=mysql://... node packages/db/src/cli/bootstrap.ts
 */
import { bootstrapDatabase } from "../bootstrap/bootstrap.ts";

const result = await bootstrapDatabase({
  url: process.env.DATABASE_URL ?? "mysql://root@127.0.0.1:3306/osticket",
  logger: { info: (m) => console.log(m) },
  ...(process.env.OSTMESH_ADMIN_PASSWORD ? { adminPassword: process.env.OSTMESH_ADMIN_PASSWORD } : {}),
  ...(process.env.OSTMESH_API_KEY ? { apiKey: process.env.OSTMESH_API_KEY } : {}),
});
if (result.created) {
  console.log(`admin: ${result.admin.username} / ${result.admin.password}`);
  console.log(`API key (127.0.0.1): ${result.apiKey}`);
} else {
  console.log(`existing osTicket database kept (admin ${result.admin.username})`);
}
