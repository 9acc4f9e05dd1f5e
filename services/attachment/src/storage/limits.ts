import { fileExtension } from "./filename.ts";
import { OSTICKET_FILE_TYPE_CATEGORIES } from "./filetypes.ts";
import { type Db, int, selectRow, selectRows, text } from "./sql.ts";

/**
 * Upload limits as osTicket applies them to files sent with a ticket (API, e-mail): the ticket form's
 * `message` field (a thread field) carries the file-upload options, each defaulting to a system setting
 * (`include/class.forms.php` ThreadEntryField/FileUploadField, `include/api.tickets.php` L70-100).
 */

/** Which files a field accepts, in osTicket's terms: `null` lists mean "no restriction from this list". */
export interface FileTypeRule {
  /** Exact MIME types that are always accepted (from the chosen categories and `type/sub` entries). */
  mimeTypes: readonly string[];
  /** Accepted extensions as `.ext`; `null` = every extension. */
  extensions: readonly string[] | null;
}

export interface AttachmentPolicy extends FileTypeRule {
  /** The ticket form's message field (`ost_form_field.id`), or null when the form has none. */
  fieldId: number | null;
  /** "Enable Attachments": when false osTicket silently drops every file sent with a ticket. */
  enabled: boolean;
  /** Largest accepted file in bytes (a file of exactly this size is accepted). */
  maxFileSize: number;
  /** "Maximum Files" per upload, or null for no limit. */
  maxFiles: number | null;
  /** "Strict Mime Type Check" option of the field. */
  strictMimeCheck: boolean;
}

/** System settings the field options default to. */
export interface UploadSettings {
  /** `max_file_size` (1048576 on a fresh install). osTicket has no default: a missing value rejects every file. */
  maxFileSize: number;
  /** `allow_attachments`, default true. */
  allowAttachments: boolean;
  /** `allowed_filetypes`, the default extension list of thread fields ("" = none). */
  allowedFileTypes: string;
}

/**
 * osTicket's rule (FileUploadField::isValidFileType): a file is accepted when its declared type is one of
 * the allowed MIME types, or when no extension list applies, or when its extension is in the list.
 * MIME types compare case-insensitively here (osTicket compares the raw string).
 */
export function isFileTypeAllowed(rule: FileTypeRule, fileName: string, declaredType: string): boolean {
  const type = declaredType.trim().toLowerCase();
  if (type && rule.mimeTypes.some((m) => m.toLowerCase() === type)) return true;
  if (!rule.extensions || rule.extensions.length === 0 || rule.extensions.includes(".*")) return true;
  const ext = fileExtension(fileName);
  return ext !== "" && rule.extensions.includes(`.${ext}`);
}

/** Reads the system upload settings from `ost_config` (namespace `core`). */
export async function getUploadSettings(em: Db): Promise<UploadSettings> {
  const rows = await selectRows(
    em,
    "SELECT `key`, `value` FROM `ost_config` WHERE `namespace` = 'core' AND `key` IN ('max_file_size', 'allow_attachments', 'allowed_filetypes')",
  );
  const values = new Map(rows.map((r) => [text(r.key), text(r.value)]));
  const allow = values.get("allow_attachments");
  return {
    maxFileSize: toSize(values.get("max_file_size")) ?? 0,
    allowAttachments: allow === undefined ? true : phpTruthy(allow),
    allowedFileTypes: (values.get("allowed_filetypes") ?? "").trim(),
  };
}

/** `max_file_size` from `ost_config`: the default per-file limit. */
export async function getMaxFileSize(em: Db): Promise<number> {
  return (await getUploadSettings(em)).maxFileSize;
}

/**
 * The attachment policy of the ticket form's `message` field, which osTicket applies to files arriving
 * with a new ticket or message through the API and e-mail.
 */
export async function getMessageFieldAttachmentPolicy(em: Db): Promise<AttachmentPolicy> {
  const settings = await getUploadSettings(em);
  const field = await selectRow(
    em,
    "SELECT ff.`id`, ff.`type`, ff.`configuration` FROM `ost_form_field` ff" +
      " JOIN `ost_form` f ON f.`id` = ff.`form_id`" +
      " WHERE f.`type` = 'T' AND ff.`name` = 'message' ORDER BY f.`id`, ff.`id` LIMIT 1",
  );
  if (!field) {
    return { ...policyFromFieldConfiguration(null, settings), fieldId: null, enabled: false };
  }
  const policy = policyFromFieldConfiguration(parseConfiguration(field.configuration), settings);
  // Only a thread field carries attachments.
  return {
    ...policy,
    fieldId: int(field.id, "ost_form_field.id"),
    enabled: policy.enabled && text(field.type) === "thread",
  };
}

function parseConfiguration(value: unknown): unknown {
  const raw = text(value);
  if (raw.trim() === "") return null;
  try {
    return JSON.parse(raw);
  } catch {
    return null;
  }
}

/**
 * Resolves a thread field's stored `configuration` JSON the way osTicket does: missing options take their
 * defaults, then the chosen file-type categories and the extension list become the accepted types.
 */
export function policyFromFieldConfiguration(
  configuration: unknown,
  settings: UploadSettings,
): AttachmentPolicy {
  const config = isRecord(configuration) ? configuration : {};
  const attachments = config.attachments ?? settings.allowAttachments;
  // The thread field's extension list defaults to the system list when that is set, else stays unset.
  const extensionsOption = config.extensions ?? (settings.allowedFileTypes || null);
  const maxFileSize = toSize(config.size) ?? settings.maxFileSize;

  const mimeTypes = new Set<string>();
  const extensions = new Set<string>();
  for (const category of chosenCategories(config.mimetypes)) {
    for (const [mime, exts] of Object.entries(OSTICKET_FILE_TYPE_CATEGORIES[category]?.types ?? {})) {
      mimeTypes.add(mime);
      for (const ext of exts) extensions.add(`.${ext}`);
    }
  }

  let extensionList: string[] | null;
  if (typeof extensionsOption === "string") {
    // ".*" anywhere lifts the extra list (the categories' extensions still apply).
    const list = extensionsOption.includes(".*") ? "" : extensionsOption;
    for (const entry of list.replaceAll(",", " ").split(/\s+/)) {
      if (!entry) continue;
      if (entry.indexOf("/") > 0) {
        mimeTypes.add(entry);
      } else {
        extensions.add((entry.startsWith(".") ? entry : `.${entry}`).toLowerCase());
      }
    }
    extensionList = [...extensions];
  } else if (Array.isArray(extensionsOption)) {
    extensionList = extensionsOption.map((e) => text(e));
  } else {
    // No extension option at all: osTicket then accepts every file, whatever categories were chosen.
    extensionList = null;
  }

  return {
    fieldId: null,
    enabled: phpTruthy(attachments),
    maxFileSize,
    maxFiles: toCount(config.max),
    strictMimeCheck: phpTruthy(config.strictmimecheck ?? false),
    mimeTypes: [...mimeTypes],
    extensions: extensionList,
  };
}

function chosenCategories(value: unknown): string[] {
  if (Array.isArray(value)) return value.map((v) => text(v));
  // A multi-select choice is saved as {"image": "Images", ...}.
  if (isRecord(value)) return Object.keys(value);
  if (typeof value === "string" && value !== "") return [value];
  return [];
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** A size option: a number, a numeric string, or a saved choice {"1048576": "1 mb"}. */
function toSize(value: unknown): number | undefined {
  if (value === null || value === undefined) return undefined;
  if (isRecord(value)) return toSize(Object.keys(value)[0]);
  const n = typeof value === "number" ? value : Number.parseInt(text(value), 10);
  return Number.isFinite(n) && n >= 0 ? Math.floor(n) : 0;
}

function toCount(value: unknown): number | null {
  if (value === null || value === undefined || value === false || value === "") return null;
  const n = typeof value === "number" ? value : Number.parseInt(text(value), 10);
  return Number.isFinite(n) && n > 0 ? Math.floor(n) : null;
}

/** PHP truthiness of a decoded JSON/config value. */
function phpTruthy(value: unknown): boolean {
  if (value === null || value === undefined || value === false) return false;
  if (typeof value === "number") return value !== 0;
  if (typeof value === "string") return value !== "" && value !== "0";
  if (Array.isArray(value)) return value.length > 0;
  return true;
}
