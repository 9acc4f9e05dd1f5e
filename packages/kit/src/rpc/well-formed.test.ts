import { create } from "@bufbuild/protobuf";
import {
  ListTicketsRequestSchema,
  UpdateTicketRequestSchema,
} from "@ostmesh/proto/gen/osticket/ticket/v1/ticket_service_pb.js";
import { describe, expect, it } from "vitest";
import { malformedValues } from "./well-formed.ts";

describe("malformedValues", () => {
  it("names every timestamp outside what google.protobuf.Timestamp allows, by its path", () => {
    const request = create(ListTicketsRequestSchema, {
      filter: {
        created: { start: { seconds: -62135596801n }, end: { seconds: 253402300799n } },
        updated: { start: { seconds: 253402300800n }, end: { seconds: 0n, nanos: 1_000_000_000 } },
      },
    });
    expect(malformedValues(ListTicketsRequestSchema, request)).toEqual([
      { field: "filter.created.start", description: "timestamp outside 0001-01-01 … 9999-12-31" },
      { field: "filter.updated.start", description: "timestamp outside 0001-01-01 … 9999-12-31" },
      { field: "filter.updated.end", description: "timestamp nanos outside 0 … 999999999" },
    ]);
  });

  it("finds nothing wrong with the limits themselves or with absent timestamps", () => {
    const request = create(UpdateTicketRequestSchema, {
      ticketId: 1,
      patch: { dueDate: { seconds: -62135596800n, nanos: 999_999_999 } },
    });
    expect(malformedValues(UpdateTicketRequestSchema, request)).toEqual([]);
    expect(malformedValues(ListTicketsRequestSchema, create(ListTicketsRequestSchema))).toEqual([]);
  });
});
