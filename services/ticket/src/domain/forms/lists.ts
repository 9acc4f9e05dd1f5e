import { type ListItem, listIdOf, listItemOf } from "@ostmesh/kit/osticket/forms/answers.ts";
import type { FormDefinition } from "../reference/forms.ts";
import { type BatchRead, noRead, type Row } from "../sql.ts";

export type ListItems = ReadonlyMap<number, readonly ListItem[]>;

const NO_ITEMS: ListItems = new Map();

function itemsOf(rows: readonly Row[]): ListItems {
  const byList = new Map<number, ListItem[]>();
  for (const r of rows) {
    const item = listItemOf(r);
    const list = byList.get(item.listId) ?? [];
    list.push(item);
    byList.set(item.listId, list);
  }
  return byList;
}

/** The list ids the list fields of these forms select from. */
export function listIdsOf(forms: readonly (FormDefinition | undefined)[]): number[] {
  const ids = new Set<number>();
  for (const form of forms)
    for (const field of form?.fields ?? []) {
      const id = listIdOf(field);
      if (id !== undefined) ids.add(id);
    }
  return [...ids];
}

/**
 * The items of the lists that the given lists' fields and, when `topicId` is set, the list fields of that
 * help topic's forms select from (the topic's forms are not known yet when a create reads ahead, so they
 * are found in the same statement). Nothing is read when there is neither.
 */
export function listItemsRead(listIds: readonly number[], topicId: number): BatchRead<ListItems> {
  if (!listIds.length && !topicId) return noRead(NO_ITEMS);
  const conditions: string[] = [];
  const params: number[] = [];
  if (listIds.length) {
    conditions.push(`i.list_id IN (${listIds.map(() => "?").join(", ")})`);
    params.push(...listIds);
  }
  if (topicId) {
    conditions.push(
      "i.list_id IN (SELECT CAST(SUBSTRING(f.type, 6) AS UNSIGNED) FROM ost_help_topic_form htf" +
        " JOIN ost_form_field f ON f.form_id = htf.form_id WHERE htf.topic_id = ? AND f.type LIKE 'list-%')",
    );
    params.push(topicId);
  }
  return {
    statements: [
      {
        sql: `SELECT i.id, i.list_id, i.value, i.extra, i.status FROM ost_list_items i WHERE ${conditions.join(" OR ")} ORDER BY i.sort, i.id`,
        params,
      },
    ],
    read: ([rows = []]) => itemsOf(rows),
  };
}
