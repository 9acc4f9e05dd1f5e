import type { FormDefinition, FormField } from "@ostmesh/kit/osticket/forms/fields.ts";
import { int, isRecord, json, str, strOrNull } from "../rows.ts";
import type { Sql } from "../sql.ts";

export {
  cdataColumn,
  FieldFlag,
  type FormDefinition,
  type FormField,
  hasData,
  isEnabled,
  isExtStored,
  isRequiredForClose,
  isRequiredForStaff,
  isRequiredForUsers,
  isVisibleToStaff,
  isVisibleToUsers,
} from "@ostmesh/kit/osticket/forms/fields.ts";

interface Cached<T> {
  readonly value: T;
  readonly expires: number;
}

/**
 * Metadata shared across requests for a short time: forms and fields, business-hours schedules (admins
 * rarely edit them; a stale entry lives at most `ttlMs`) and `ost_event` ids (install data). Lookups are by form type or id and by
 * event name, never by hard-coded ids.
 */
export class MetadataCache {
  readonly #ttlMs: number;
  readonly #now: () => number;
  readonly #byId = new Map<number, Cached<FormDefinition | undefined>>();
  readonly #byType = new Map<string, Cached<number | undefined>>();
  readonly #other = new Map<string, Cached<unknown>>();
  #events: Cached<ReadonlyMap<string, number>> | undefined;

  constructor(options: { ttlMs?: number; now?: () => number } = {}) {
    this.#ttlMs = options.ttlMs ?? 5_000;
    this.#now = options.now ?? Date.now;
  }

  /** Drops every cached entry (e.g. after an admin edit). */
  invalidate(): void {
    this.#byId.clear();
    this.#byType.clear();
    this.#events = undefined;
    this.#other.clear();
  }

  /**
   * Other admin-edited metadata (e.g. business-hours schedules), by key: `load`'s value, reused for `ttlMs`
   * like the forms (absent values too).
   */
  async shared<T>(key: string, load: () => Promise<T>): Promise<T> {
    const hit = this.#other.get(key);
    if (hit && hit.expires > this.#now()) return hit.value as T;
    const value = await load();
    if (this.#ttlMs > 0) {
      if (this.#other.size >= 1000) this.#other.clear();
      this.#other.set(key, { value, expires: this.#now() + this.#ttlMs });
    }
    return value;
  }

  /** `ost_event` ids by name. */
  async eventIds(tx: Sql): Promise<ReadonlyMap<string, number>> {
    if (this.#events && this.#events.expires > this.#now()) return this.#events.value;
    const rows = await tx.all("SELECT id, name FROM ost_event");
    const value = new Map(rows.map((r) => [str(r, "name"), int(r, "id")]));
    // Install data: kept ten times longer than form metadata.
    this.#events = { value, expires: this.#now() + this.#ttlMs * 10 };
    return value;
  }

  /** The form of a type (`T` ticket, `U` contact, `O` organization, `A` task), as osTicket picks it. */
  async byType(tx: Sql, type: string): Promise<FormDefinition | undefined> {
    const hit = this.#byType.get(type);
    let id: number | undefined;
    if (hit && hit.expires > this.#now()) {
      id = hit.value;
    } else {
      const row = await tx.first("SELECT id FROM ost_form WHERE type = ? ORDER BY title, id LIMIT 1", [type]);
      id = row ? int(row, "id") : undefined;
      this.#byType.set(type, { value: id, expires: this.#now() + this.#ttlMs });
    }
    return id === undefined ? undefined : this.byId(tx, id);
  }

  async byId(tx: Sql, id: number): Promise<FormDefinition | undefined> {
    const hit = this.#byId.get(id);
    if (hit && hit.expires > this.#now()) return hit.value;
    const [forms, fields] = await Promise.all([
      tx.all("SELECT id, type, title FROM ost_form WHERE id = ?", [id]),
      tx.all(
        "SELECT id, form_id, flags, type, label, name, configuration, sort FROM ost_form_field" +
          " WHERE form_id = ? ORDER BY sort, id",
        [id],
      ),
    ]);
    const form = forms[0];
    const value: FormDefinition | undefined = form
      ? {
          id: int(form, "id"),
          type: str(form, "type"),
          title: str(form, "title"),
          fields: fields.map((f) => {
            const config = json(strOrNull(f, "configuration"));
            return {
              id: int(f, "id"),
              formId: int(f, "form_id"),
              type: str(f, "type"),
              label: str(f, "label"),
              name: str(f, "name"),
              flags: int(f, "flags"),
              sort: int(f, "sort"),
              configuration: isRecord(config) ? config : {},
            };
          }),
        }
      : undefined;
    this.#byId.set(id, { value, expires: this.#now() + this.#ttlMs });
    return value;
  }
}

/** A field of a form by its variable name. */
export function fieldNamed(form: FormDefinition | undefined, name: string): FormField | undefined {
  return form?.fields.find((f) => f.name === name);
}
