/**
 * Choice and list answers of the legacy API as osTicket 1.18.1 stores them (ost_form_entry_values.value),
 * for values sent as numbers, booleans, arrays and objects, and for choice texts. Each row was checked
 * against osTicket's own PHP answering the same request (but the nested list, where osTicket fails with a
 * PHP TypeError): list items 501 Gold (abbreviation G), 502 Silver (S), 503 Bronze (B, disabled); choices
 * `r:Red`, `g:Green`, `b:Blue`.
 */
import { describe, expect, it } from "vitest";
import { type ListItem, listSelection, parseAnswer, storeAnswer, validateAnswer } from "./answers.ts";
import type { FormField } from "./fields.ts";
import { type PhpInput, phpInputOf, typedChoiceAnswer, typedListAnswer } from "./typed.ts";

const ITEMS: ListItem[] = [
  { id: 501, listId: 50, value: "Gold", extra: "G", enabled: true },
  { id: 502, listId: 50, value: "Silver", extra: "S", enabled: true },
  { id: 503, listId: 50, value: "Bronze", extra: "B", enabled: false },
];
const CHOICES = new Map([
  ["r", "Red"],
  ["g", "Green"],
  ["b", "Blue"],
]);

const list = (...values: PhpInput[]): PhpInput => ({ array: values.map((v, i) => [String(i), v] as const) });
const object = (entries: Record<string, PhpInput>): PhpInput => ({ array: Object.entries(entries) });
const choiceField = (multiselect: boolean): FormField => ({
  id: 903,
  formId: 2,
  type: "choices",
  label: "Color",
  name: "color",
  flags: 0x3301,
  sort: 92,
  configuration: { choices: "r:Red\ng:Green\nb:Blue", multiselect },
});

describe("typedListAnswer", () => {
  it.each<[string, PhpInput, string | null]>([
    ["an integer names any item by id", 503, '{"503":"Bronze"}'],
    ["a float names none", { float: 503 }, null],
    ["true matches the first enabled item loosely", true, '{"501":"Gold"}'],
    ["a list of ids", list(501), '{"501":"Gold"}'],
    ["a list of id texts", list("501"), '{"501":"Gold"}'],
    ["a disabled item by integer id", list(503), '{"503":"Bronze"}'],
    ["not a disabled item by id text", list("503"), null],
    [
      "several, in the order sent, on a single-choice field too",
      list(502, 501),
      '{"502":"Silver","501":"Gold"}',
    ],
    [
      "by value, by abbreviation, case and trailing spaces aside",
      list("Gold ", "b"),
      '{"501":"Gold","503":"Bronze"}',
    ],
    ["a value's leading space matches nothing", list(" Gold"), null],
    ["duplicates once", list("Gold", "Gold", 501), '{"501":"Gold"}'],
    ["an object's keys are ignored", object({ "501": "x" }), null],
    ["an object's values are read", object({ x: "G", y: 503 }), '{"501":"Gold","503":"Bronze"}'],
    ["0 and unknown values add nothing", list(0, "nope", 501), '{"501":"Gold"}'],
    ["an empty list", list(), null],
    ["a nested list is skipped", list(list("501")), null],
  ])("%s", (_, value, stored) => {
    expect(typedListAnswer(value, ITEMS)).toBe(stored);
  });
});

describe("typedChoiceAnswer", () => {
  it.each<[string, PhpInput, boolean, string | null]>([
    ["a key", "r", false, '{"r":"Red"}'],
    ["a label is kept as text", "Red", false, "Red"],
    ["other case is kept as text", "R", false, "R"],
    ["spaces are kept", " r", false, " r"],
    ['"0" is no answer', "0", false, null],
    ["0 is no answer", 0, false, null],
    ["true is its text", true, false, "1"],
    ["a comma list of keys", "g,r", false, '{"g":"Green","r":"Red"}'],
    ["a comma list, pieces trimmed", "r, b", false, '{"r":"Red","b":"Blue"}'],
    ["one key in a comma list", "r,", false, '{"r":"Red"}'],
    ["no key in a comma list: the first piece", "x,y", true, "x"],
    ["a leading comma is no list", ",r", false, ",r"],
    ["JSON text is decoded", '{"r":"x"}', false, '{"r":"Red"}'],
    ["a list of keys", list("r", "g"), false, '{"r":"Red","g":"Green"}'],
    ["a list of one key", list("r"), false, '{"r":"Red"}'],
    ["a list starting with a non-key: that value", list("x", "r"), false, "x"],
    ["a list holding a number", list(1), false, "1"],
    ["an object of non-keys", object({ g: "x" }), false, null],
    ["an object of labels", object({ b: "Blue", r: "Red" }), true, null],
    ["one key, multiselect", "g", true, '{"g":"Green"}'],
  ])("%s", (_, value, multiselect, stored) => {
    expect(typedChoiceAnswer(choiceField(multiselect), value, CHOICES)).toBe(stored);
  });
});

describe("phpInputOf", () => {
  it("reads the gateway's encoding and refuses anything else", () => {
    expect(phpInputOf('{"array":[["0",501],["x",{"float":1.5}]]}')).toEqual({
      array: [
        ["0", 501],
        ["x", { float: 1.5 }],
      ],
    });
    expect(phpInputOf("true")).toBe(true);
    expect(phpInputOf('{"other":1}')).toBeUndefined();
    expect(phpInputOf("{")).toBeUndefined();
  });
});

describe("a stored selection", () => {
  it("keeps the order it was stored in, for its mirror and its search text (osTicket: Silver, Gold)", () => {
    const stored = '{"502":"Silver","501":"Gold"}';
    expect([...(listSelection(stored) ?? new Map()).keys()]).toEqual(["502", "501"]);
    const field: FormField = { ...choiceField(false), type: "list-50", name: "tier", configuration: {} };
    expect(storeAnswer(field, stored)).toMatchObject({ cdata: "502, 501", searchable: "Silver, Gold" });
    expect(listSelection('{"a":{"x":1},"b":"B, with \\"quotes\\""}')).toEqual(
      new Map([
        ["a", "[object Object]"],
        ["b", 'B, with "quotes"'],
      ]),
    );
  });
});

describe("a phone answer", () => {
  const tel: FormField = { ...choiceField(false), type: "phone", name: "tel", configuration: {} };
  it("keeps digits and X; a legacy request's lowercase x is no separator (only its `phone` key is upper-cased)", () => {
    expect(parseAnswer(tel, "555-123-4567 x12", { legacy: true })).toBe("555123456712");
    expect(parseAnswer(tel, "555-123-4567 X12", { legacy: true })).toBe("5551234567X12");
    // Other callers have no separate extension box: their x is the separator.
    expect(parseAnswer(tel, "555-123-4567 x12")).toBe("5551234567X12");
  });

  it('is checked with PHP truthiness: "0" passes (osTicket stores it), "abc" and a bare extension do not', () => {
    const check = (value: string) => validateAnswer(tel, value, { required: false, isEmail: () => true });
    expect(check("0")).toEqual([]);
    expect(check("abc")).toEqual(["Enter a valid phone number"]);
    expect(check("X12")).toEqual(["Enter a phone number for the extension"]);
  });
});
