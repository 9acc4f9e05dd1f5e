import { type EntityManager, query } from "@ostmesh/db";
import { num, str } from "../osticket/reads.ts";

/**
 * osTicket's e-mail templates (ost_email_template, grouped by ost_email_template_group), rendered with
 * osTicket's `%{ticket.number}` variables so admins keep editing them in osTicket's admin panel.
 */

export interface EmailTemplate {
  readonly codeName: string;
  readonly subject: string;
  readonly body: string;
}

/**
 * The template `codeName` of group `tplId`, falling back to the default group when the department's group
 * is unset, inactive or lacks it (as osTicket does); undefined when no group has it.
 */
export async function loadTemplate(
  em: EntityManager,
  tplId: number,
  defaultTplId: number,
  codeName: string,
): Promise<EmailTemplate | undefined> {
  const rows = await query(
    em,
    "SELECT t.tpl_id, t.subject, t.body, g.isactive FROM ost_email_template t" +
      " JOIN ost_email_template_group g ON g.tpl_id = t.tpl_id" +
      " WHERE t.code_name = ? AND t.tpl_id IN (?, ?)",
    [codeName, tplId || defaultTplId, defaultTplId],
  );
  const preferred = rows.find((r) => num(r.tpl_id) === tplId && num(r.isactive) === 1);
  const fallback = rows.find((r) => num(r.tpl_id) === defaultTplId);
  const row = preferred ?? fallback;
  return row ? { codeName, subject: str(row.subject).trim(), body: str(row.body) } : undefined;
}

/** A value of a template variable: text (escaped in HTML bodies) or HTML (inserted as is). */
export type TemplateValue = string | { readonly html: string };

export type TemplateVariables = Readonly<Record<string, TemplateValue | undefined>>;

const HTML_ESCAPES: Readonly<Record<string, string>> = {
  "&": "&amp;",
  "<": "&lt;",
  ">": "&gt;",
  '"': "&quot;",
  "'": "&#39;",
};

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => HTML_ESCAPES[c] ?? c);
}

function lookup(variables: TemplateVariables, name: string): TemplateValue | undefined {
  const exact = variables[name.toLowerCase()];
  if (exact !== undefined) return exact;
  // `%{ticket.dept}` means its name, as osTicket's objects print themselves.
  return variables[`${name.toLowerCase()}.name`];
}

/**
 * `%{var}` (and `%%7Bvar%7D`, the form osTicket's HTML editor leaves inside href attributes) replaced by
 * its value. Unknown variables become empty, as in osTicket.
 */
function render(template: string, variables: TemplateVariables, html: boolean): string {
  return template.replace(
    /%\{([a-zA-Z0-9_.]+)\}|%%7B([a-zA-Z0-9_.]+)%7D/g,
    (_m, plain?: string, encoded?: string) => {
      const value = lookup(variables, plain ?? encoded ?? "");
      if (value === undefined) return "";
      if (typeof value !== "string") return html ? value.html : stripTags(value.html);
      return html ? escapeHtml(value) : value;
    },
  );
}

export function stripTags(html: string): string {
  return html
    .replace(/<[^>]*>/g, "")
    .replace(/&nbsp;/g, " ")
    .replace(/&lt;/g, "<")
    .replace(/&gt;/g, ">")
    .replace(/&quot;/g, '"')
    .replace(/&#0?39;/g, "'")
    .replace(/&amp;/g, "&");
}

/** The rendered subject (plain text, one line) and HTML body of a template. */
export function renderTemplate(
  template: EmailTemplate,
  variables: TemplateVariables,
): { subject: string; html: string } {
  return {
    subject: render(template.subject, variables, false).replace(/\s+/g, " ").trim(),
    html: render(template.body, variables, true),
  };
}

/**
 * A thread entry body as HTML for %{message} / %{response}: HTML entries are stored sanitised; a text entry is
 * what TextThreadEntryBody::display('email') makes of it, the text escaped by Format::htmlchars (which leaves
 * the entities of the stored, already escaped text as they are) in a block that keeps its line breaks.
 */
export function entryHtml(body: string, format: "html" | "text"): { html: string } {
  return { html: format === "html" ? body : `<div style="white-space:pre-wrap">${htmlchars(body)}</div>` };
}

/** PHP's htmlspecialchars(ENT_COMPAT, double_encode false): `&` (unless it starts an entity), `<`, `>`, `"`. */
function htmlchars(text: string): string {
  return text
    .replace(/&(?!(?:[A-Za-z][A-Za-z0-9]*|#[0-9]+|#[xX][0-9A-Fa-f]+);)/g, "&amp;")
    .replace(/</g, "&lt;")
    .replace(/>/g, "&gt;")
    .replace(/"/g, "&quot;");
}
