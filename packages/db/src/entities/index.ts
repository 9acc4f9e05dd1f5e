import { osticketEntities } from "./osticket/index.ts";
import { ostmeshEntities } from "./ostmesh.ts";

export * from "./osticket/index.ts";
export * from "./ostmesh.ts";
export * from "./ostmesh-identity.ts";
export * from "./ostmesh-notification.ts";

/** Every entity this package defines (osTicket's tables and ostmesh's own), for `createOrm`. */
export const allEntities = [...osticketEntities, ...ostmeshEntities];
