import { type EntityManager, query } from "@ostmesh/db";
import { num, str } from "../osticket/reads.ts";
import { dateTimePattern } from "./dates.ts";

/**
 * osTicket's alert and auto-responder switches (ost_config, namespace core), read on every event so admins
 * keep changing them in osTicket's admin panel. Keys missing from the table take the defaults osTicket's
 * PHP applies (an empty value is "off", as osTicket stores unchecked boxes).
 */
export interface AlertSettings {
  readonly helpdeskUrl: string;
  readonly helpdeskTitle: string;
  /**
   * The company's name (`%{company.name}`): the name answer of the company information form (Admin Panel →
   * Settings → Company), which is what osTicket's Company object prints.
   */
  readonly companyName: string;
  /** IANA zone dates in e-mails are shown in (default_timezone). */
  readonly timeZone: string;
  /** ICU pattern of dates in e-mails (`date_formats`, `datetime_format`; see dates.ts). */
  readonly dateTimePattern: string;
  readonly adminEmail: string;
  readonly defaultEmailId: number;
  readonly alertEmailId: number;
  readonly defaultTemplateId: number;
  /** `reply_separator`, marking where a reply's quote starts (with `strip_quoted_reply`). */
  readonly replySeparator: string;
  readonly flag: (key: AlertFlag) => boolean;
}

export type AlertFlag =
  | "ticket_autoresponder"
  | "message_autoresponder"
  | "message_autoresponder_collabs"
  | "ticket_notice_active"
  | "ticket_alert_active"
  | "ticket_alert_admin"
  | "ticket_alert_dept_manager"
  | "ticket_alert_dept_members"
  | "message_alert_active"
  | "message_alert_laststaff"
  | "message_alert_assigned"
  | "message_alert_dept_manager"
  | "note_alert_active"
  | "note_alert_laststaff"
  | "note_alert_assigned"
  | "note_alert_dept_manager"
  | "overdue_alert_active"
  | "overdue_alert_assigned"
  | "overdue_alert_dept_manager"
  | "overdue_alert_dept_members"
  | "assigned_alert_active"
  | "assigned_alert_staff"
  | "assigned_alert_team_lead"
  | "assigned_alert_team_members"
  | "transfer_alert_active"
  | "transfer_alert_assigned"
  | "transfer_alert_dept_manager"
  | "transfer_alert_dept_members"
  | "email_attachments"
  | "strip_quoted_reply"
  | "allow_auth_tokens";

/** Values of keys absent from ost_config (osTicket's OsticketConfig::$defaults and installer seed). */
const DEFAULTS: Readonly<Record<string, string>> = {
  helpdesk_url: "",
  helpdesk_title: "",
  admin_email: "",
  default_email_id: "0",
  alert_email_id: "0",
  default_template_id: "1",
  // notifyCollabsONNewMessage: osTicket notifies collaborators of new messages unless told not to.
  message_autoresponder_collabs: "1",
  // emailAttachments: the installer seeds it on; e-mails carry their thread entry's files.
  email_attachments: "1",
  // isAuthTokenEnabled: an end user's ticket link logs them in (OsticketConfig::$defaults).
  allow_auth_tokens: "1",
};

export async function loadAlertSettings(em: EntityManager): Promise<AlertSettings> {
  // The company's name rides along as a pseudo-key no config key can have (config keys have no colon).
  const rows = await query(
    em,
    "SELECT `key`, value FROM ost_config WHERE namespace = 'core' UNION ALL" +
      " (SELECT ':company_name', v.value FROM ost_form_entry e JOIN ost_form_entry_values v ON v.entry_id = e.id" +
      " JOIN ost_form_field f ON f.id = v.field_id WHERE e.object_type = 'C' AND f.name = 'name' ORDER BY e.id LIMIT 1)",
  );
  const values = new Map(rows.map((r) => [str(r.key), str(r.value)]));
  const get = (key: string) => values.get(key) ?? DEFAULTS[key] ?? "";
  return {
    helpdeskUrl: get("helpdesk_url"),
    helpdeskTitle: get("helpdesk_title"),
    companyName: values.get(":company_name") ?? "",
    timeZone: get("default_timezone") || "UTC",
    dateTimePattern: dateTimePattern(get("date_formats"), get("datetime_format")),
    adminEmail: get("admin_email"),
    defaultEmailId: num(get("default_email_id")),
    alertEmailId: num(get("alert_email_id")),
    defaultTemplateId: num(get("default_template_id")),
    replySeparator: get("reply_separator"),
    flag: (key) => {
      const value = get(key).trim();
      return value !== "" && value !== "0";
    },
  };
}
