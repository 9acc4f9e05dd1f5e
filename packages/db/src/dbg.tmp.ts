import { createOrm, runMigrations } from "@ostmesh/db";

const orm = await createOrm({
  url: "mysql://root@127.0.0.1:3306/ostmesh_smoke_y",
  debug: ["schema"],
  extra: { ensureDatabase: true },
});
await runMigrations(orm);
console.log(await orm.schema.getUpdateSchemaSQL({ wrap: false }));
await orm.close();
