import { osticketEntities } from "./osticket/index.ts";
import { ostmeshEntities } from "./ostmesh.ts";
import { attachmentEntities } from "./ostmesh-attachment.ts";
import { identityEntities } from "./ostmesh-identity.ts";
import { notificationEntities } from "./ostmesh-notification.ts";

export * from "./osticket/index.ts";
export * from "./ostmesh.ts";
export * from "./ostmesh-attachment.ts";
export * from "./ostmesh-identity.ts";
export * from "./ostmesh-notification.ts";

/** ostmesh's own tables (`ostmesh_*`), created only by its migrations. */
export const ownEntities = [
  ...ostmeshEntities,
  ...identityEntities,
  ...notificationEntities,
  ...attachmentEntities,
];

/** Every entity this package defines (osTicket's tables and ostmesh's own), for `createOrm`. */
export const allEntities = [...osticketEntities, ...ownEntities];
