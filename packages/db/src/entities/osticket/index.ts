// Every osTicket entity of osTicket 1.18.1, derived from a fresh install by src/dev/derive-schema.ts.
// Edit by re-deriving, not by hand.

import { CannedResponse, Content, Email, EmailAccount, EmailTemplate, EmailTemplateGroup } from "./email.ts";
import { Attachment, AttachmentFile, FileChunk } from "./file.ts";
import { Filter, FilterAction, FilterRule } from "./filter.ts";
import { CustomList, CustomListItem, Form, FormEntry, FormEntryValues, FormField } from "./form.ts";
import { ConfigItem, HelpTopic, HelpTopicForm, Schedule, ScheduleEntry, Sequence, Sla } from "./helpdesk.ts";
import {
  Queue,
  QueueColumn,
  QueueColumns,
  QueueConfig,
  QueueExport,
  QueueSort,
  QueueSorts,
} from "./queue.ts";
import {
  Department,
  PhpSession,
  Role,
  Staff,
  StaffDeptAccess,
  StaffGroup,
  Team,
  TeamMember,
} from "./staff.ts";
import {
  ApiKey,
  Faq,
  FaqCategory,
  FaqTopic,
  Plugin,
  PluginInstance,
  SearchIndex,
  Syslog,
  Translation,
} from "./system.ts";
import {
  EventType,
  QuickNote,
  Thread,
  ThreadCollaborator,
  ThreadEntry,
  ThreadEntryEmail,
  ThreadEntryMerge,
  ThreadEvent,
  ThreadReferral,
} from "./thread.ts";
import {
  Draft,
  Task,
  TaskCdata,
  Ticket,
  TicketCdata,
  TicketLock,
  TicketPriority,
  TicketStatus,
} from "./ticket.ts";
import { Organization, OrganizationCdata, User, UserAccount, UserCdata, UserEmail } from "./user.ts";

export * from "./email.ts";
export * from "./file.ts";
export * from "./filter.ts";
export * from "./form.ts";
export * from "./helpdesk.ts";
export * from "./queue.ts";
export * from "./staff.ts";
export * from "./system.ts";
export * from "./thread.ts";
export * from "./ticket.ts";
export * from "./user.ts";

/** One entity per osTicket table (72). */
export const osticketEntities = [
  Ticket,
  TicketCdata,
  TicketStatus,
  TicketPriority,
  TicketLock,
  Draft,
  Task,
  TaskCdata,
  Thread,
  ThreadEntry,
  ThreadEntryEmail,
  ThreadEntryMerge,
  ThreadEvent,
  ThreadCollaborator,
  ThreadReferral,
  EventType,
  QuickNote,
  User,
  UserEmail,
  UserAccount,
  UserCdata,
  Organization,
  OrganizationCdata,
  Staff,
  StaffDeptAccess,
  Department,
  Team,
  TeamMember,
  Role,
  StaffGroup,
  PhpSession,
  HelpTopic,
  HelpTopicForm,
  Sla,
  Schedule,
  ScheduleEntry,
  Sequence,
  ConfigItem,
  AttachmentFile,
  FileChunk,
  Attachment,
  Form,
  FormField,
  FormEntry,
  FormEntryValues,
  CustomList,
  CustomListItem,
  Email,
  EmailAccount,
  EmailTemplate,
  EmailTemplateGroup,
  CannedResponse,
  Content,
  Filter,
  FilterRule,
  FilterAction,
  Queue,
  QueueColumn,
  QueueColumns,
  QueueConfig,
  QueueExport,
  QueueSort,
  QueueSorts,
  ApiKey,
  Syslog,
  SearchIndex,
  Plugin,
  PluginInstance,
  Translation,
  Faq,
  FaqCategory,
  FaqTopic,
];
