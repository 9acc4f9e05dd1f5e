import { ostmeshEntities } from "./ostmesh.ts";

export * from "./ostmesh.ts";

/** Every entity this package defines, for `createOrm`. */
export const allEntities = [...ostmeshEntities];
