// Every seed table of osTicket 1.18.1, derived from a fresh install by src/dev/derive-schema.ts.
// Edit by re-deriving, not by hand.

import {
  cannedResponseSeed,
  contentSeed,
  emailSeed,
  emailTemplateGroupSeed,
  emailTemplateSeed,
} from "./email.ts";
import { attachmentSeed, fileChunkSeed, fileSeed } from "./file.ts";
import { filterActionSeed, filterRuleSeed, filterSeed } from "./filter.ts";
import { formEntrySeed, formEntryValuesSeed, formFieldSeed, formSeed, listSeed } from "./form.ts";
import {
  configSeed,
  helpTopicFormSeed,
  helpTopicSeed,
  scheduleEntrySeed,
  scheduleSeed,
  sequenceSeed,
  slaSeed,
} from "./helpdesk.ts";
import { queueColumnSeed, queueColumnsSeed, queueSeed, queueSortSeed, queueSortsSeed } from "./queue.ts";
import { departmentSeed, roleSeed, staffDeptAccessSeed, staffSeed, teamSeed } from "./staff.ts";
import { syslogSeed } from "./system.ts";
import { eventSeed } from "./thread.ts";
import { ticketPrioritySeed, ticketStatusSeed } from "./ticket.ts";
import type { SeedTable } from "./types.ts";
import { organizationSeed } from "./user.ts";

/** Rows of a fresh install, per table, in name order. */
export const osticketSeed: readonly SeedTable[] = [
  attachmentSeed,
  cannedResponseSeed,
  configSeed,
  contentSeed,
  departmentSeed,
  emailSeed,
  emailTemplateSeed,
  emailTemplateGroupSeed,
  eventSeed,
  fileSeed,
  fileChunkSeed,
  filterSeed,
  filterActionSeed,
  filterRuleSeed,
  formSeed,
  formEntrySeed,
  formEntryValuesSeed,
  formFieldSeed,
  helpTopicSeed,
  helpTopicFormSeed,
  listSeed,
  organizationSeed,
  queueSeed,
  queueColumnSeed,
  queueColumnsSeed,
  queueSortSeed,
  queueSortsSeed,
  roleSeed,
  scheduleSeed,
  scheduleEntrySeed,
  sequenceSeed,
  slaSeed,
  staffSeed,
  staffDeptAccessSeed,
  syslogSeed,
  teamSeed,
  ticketPrioritySeed,
  ticketStatusSeed,
];
