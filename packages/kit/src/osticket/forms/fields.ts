/**
 * osTicket's dynamic form fields (ost_form_field) as every writer of their answers reads them: the flag bits,
 * and who sees, edits and must answer a field.
 */

/** `ost_form_field.flags` bits (include/class.dynamic_forms.php L619-642). */
export const FieldFlag = {
  ENABLED: 0x00001,
  EXT_STORED: 0x00002,
  CLOSE_REQUIRED: 0x00004,
  CLIENT_VIEW: 0x00100,
  CLIENT_EDIT: 0x00200,
  CLIENT_REQUIRED: 0x00400,
  AGENT_VIEW: 0x01000,
  AGENT_EDIT: 0x02000,
  AGENT_REQUIRED: 0x04000,
} as const;

export interface FormField {
  readonly id: number;
  readonly formId: number;
  readonly type: string;
  readonly label: string;
  /** The variable name (API key, cdata column); may be empty. */
  readonly name: string;
  readonly flags: number;
  readonly sort: number;
  readonly configuration: Readonly<Record<string, unknown>>;
}

export interface FormDefinition {
  readonly id: number;
  readonly type: string;
  readonly title: string;
  /** Fields ordered by `sort`. */
  readonly fields: readonly FormField[];
}

export const isEnabled = (f: FormField): boolean => (f.flags & FieldFlag.ENABLED) !== 0;
export const isExtStored = (f: FormField): boolean => (f.flags & FieldFlag.EXT_STORED) !== 0;
export const isVisibleToUsers = (f: FormField): boolean =>
  isEnabled(f) && (f.flags & FieldFlag.CLIENT_VIEW) !== 0;
export const isVisibleToStaff = (f: FormField): boolean =>
  isEnabled(f) && (f.flags & FieldFlag.AGENT_VIEW) !== 0;
export const isRequiredForUsers = (f: FormField): boolean => (f.flags & FieldFlag.CLIENT_REQUIRED) !== 0;
export const isRequiredForStaff = (f: FormField): boolean => (f.flags & FieldFlag.AGENT_REQUIRED) !== 0;
export const isRequiredForClose = (f: FormField): boolean => (f.flags & FieldFlag.CLOSE_REQUIRED) !== 0;
/** Presentation-only field types carry no data (section breaks, free text). */
export const hasData = (f: FormField): boolean => f.type !== "break" && f.type !== "info";
/** The `__cdata` column name of a field. */
export const cdataColumn = (f: FormField): string => f.name || `field_${f.id}`;
