/**
 * OpenAPI 3.1 for the public edge, generated from the service descriptors: every unary method as a Connect
 * JSON route `POST /<package.Service>/<Method>` (and `GET` with the message in the query for methods marked
 * NO_SIDE_EFFECTS), request and response schemas derived from the message descriptors (protobuf JSON
 * mapping), access rules as descriptions; plus the legacy osTicket routes from hand-written metadata.
 */
import {
  type DescEnum,
  type DescField,
  type DescMessage,
  type DescService,
  ScalarType,
} from "@bufbuild/protobuf";
import { MethodOptions_IdempotencyLevel } from "@bufbuild/protobuf/wkt";
import { accessRuleOf } from "@ostmesh/proto";
import { PrincipalKind } from "@ostmesh/proto/gen/osticket/common/v1/principal_pb.js";
import { legacyPaths } from "./legacy-routes.ts";

type Schema = Record<string, unknown>;

const WELL_KNOWN: Readonly<Record<string, Schema>> = {
  "google.protobuf.Timestamp": { type: "string", format: "date-time" },
  "google.protobuf.Duration": { type: "string", pattern: "^-?\\d+(\\.\\d+)?s$", examples: ["1.5s"] },
  "google.protobuf.FieldMask": { type: "string", description: "Comma-separated camelCase field paths." },
  "google.protobuf.Empty": { type: "object" },
  "google.protobuf.Struct": { type: "object", additionalProperties: true },
  "google.protobuf.Value": {},
  "google.protobuf.ListValue": { type: "array", items: {} },
  "google.protobuf.Any": {
    type: "object",
    properties: { "@type": { type: "string" } },
    required: ["@type"],
    additionalProperties: true,
  },
  "google.protobuf.StringValue": { type: ["string", "null"] },
  "google.protobuf.BoolValue": { type: ["boolean", "null"] },
  "google.protobuf.Int32Value": { type: ["integer", "null"], format: "int32" },
  "google.protobuf.UInt32Value": { type: ["integer", "null"], format: "int32" },
  "google.protobuf.Int64Value": { type: ["string", "null"], format: "int64" },
  "google.protobuf.UInt64Value": { type: ["string", "null"], format: "int64" },
  "google.protobuf.DoubleValue": { type: ["number", "null"] },
  "google.protobuf.FloatValue": { type: ["number", "null"] },
  "google.protobuf.BytesValue": { type: ["string", "null"], contentEncoding: "base64" },
};

function scalarSchema(type: ScalarType): Schema {
  switch (type) {
    case ScalarType.STRING:
      return { type: "string" };
    case ScalarType.BOOL:
      return { type: "boolean" };
    case ScalarType.BYTES:
      return { type: "string", contentEncoding: "base64" };
    case ScalarType.DOUBLE:
    case ScalarType.FLOAT:
      return { type: "number" };
    case ScalarType.INT64:
    case ScalarType.UINT64:
    case ScalarType.SINT64:
    case ScalarType.FIXED64:
    case ScalarType.SFIXED64:
      return { type: ["string", "integer"], format: "int64" };
    case ScalarType.UINT32:
    case ScalarType.FIXED32:
      return { type: "integer", format: "int64", minimum: 0, maximum: 4294967295 };
    default:
      return { type: "integer", format: "int32" };
  }
}

class SchemaCollector {
  readonly schemas: Record<string, Schema> = {};

  ref(message: DescMessage): Schema {
    const known = WELL_KNOWN[message.typeName];
    if (known) return known;
    if (!(message.typeName in this.schemas)) {
      this.schemas[message.typeName] = {}; // placeholder: recursion stops here
      this.schemas[message.typeName] = this.#message(message);
    }
    return { $ref: `#/components/schemas/${message.typeName}` };
  }

  enumRef(desc: DescEnum): Schema {
    if (!(desc.typeName in this.schemas)) {
      this.schemas[desc.typeName] = {
        type: "string",
        enum: desc.values.map((v) => v.name),
        description: `Also accepted as the number: ${desc.values.map((v) => `${v.name}=${v.number}`).join(", ")}.`,
      };
    }
    return { $ref: `#/components/schemas/${desc.typeName}` };
  }

  #singular(field: DescField): Schema {
    switch (field.fieldKind) {
      case "scalar":
        return scalarSchema(field.scalar);
      case "enum":
        return this.enumRef(field.enum);
      case "message":
        return this.ref(field.message);
      case "list":
        return {
          type: "array",
          items:
            field.listKind === "scalar"
              ? scalarSchema(field.scalar)
              : field.listKind === "enum"
                ? this.enumRef(field.enum)
                : this.ref(field.message),
        };
      case "map":
        return {
          type: "object",
          additionalProperties:
            field.mapKind === "scalar"
              ? scalarSchema(field.scalar)
              : field.mapKind === "enum"
                ? this.enumRef(field.enum)
                : this.ref(field.message),
        };
    }
  }

  #message(message: DescMessage): Schema {
    const properties: Record<string, Schema> = {};
    for (const field of message.fields) {
      const schema = this.#singular(field);
      const oneof = field.oneof && !field.proto.proto3Optional ? field.oneof : undefined;
      properties[field.jsonName] = oneof
        ? {
            ...schema,
            description: `One of ${oneof.fields.map((f) => f.jsonName).join(", ")} (oneof ${oneof.name}).`,
          }
        : schema;
    }
    return { type: "object", title: message.name, properties, additionalProperties: false };
  }
}

const KIND_NAMES: Readonly<Record<number, string>> = {
  [PrincipalKind.AGENT]: "agents",
  [PrincipalKind.END_USER]: "end users",
  [PrincipalKind.API_KEY]: "API keys",
  [PrincipalKind.SERVICE]: "services",
  [PrincipalKind.SYSTEM]: "the system",
  [PrincipalKind.ANONYMOUS]: "anonymous callers",
};

const CONNECT_ERROR: Schema = {
  type: "object",
  title: "Connect error",
  properties: {
    code: { type: "string", examples: ["invalid_argument", "unauthenticated", "resource_exhausted"] },
    message: { type: "string" },
    details: {
      type: "array",
      items: {
        type: "object",
        properties: {
          type: { type: "string" },
          value: { type: "string", contentEncoding: "base64" },
          debug: {},
        },
      },
    },
  },
};

export function buildOpenApi(services: readonly DescService[]): Record<string, unknown> {
  const collector = new SchemaCollector();
  const paths: Record<string, unknown> = { ...legacyPaths };
  for (const service of services) {
    for (const method of service.methods) {
      if (method.methodKind !== "unary") continue;
      const rule = accessRuleOf(method);
      const who = rule?.allowed.map((k) => KIND_NAMES[k] ?? "unknown").join(", ") || "nobody";
      const scope = rule?.scope ? ` API keys and services need the scope \`${rule.scope}\`.` : "";
      const anonymous = rule?.allowed.includes(PrincipalKind.ANONYMOUS) ?? false;
      const response = collector.ref(method.output);
      const operation = {
        tags: [service.typeName],
        operationId: `${service.name}.${method.name}`,
        summary: method.name,
        description: `Allowed for ${who}.${scope}`,
        security: anonymous ? [{}, { bearer: [] }, { apiKey: [] }] : [{ bearer: [] }, { apiKey: [] }],
        parameters: [
          { name: "Connect-Protocol-Version", in: "header", required: false, schema: { const: "1" } },
          { name: "Connect-Timeout-Ms", in: "header", required: false, schema: { type: "integer" } },
        ],
        responses: {
          "200": { description: "Success", content: { "application/json": { schema: response } } },
          default: { description: "Error", content: { "application/json": { schema: CONNECT_ERROR } } },
        },
      };
      const path: Record<string, unknown> = {
        post: {
          ...operation,
          requestBody: {
            required: true,
            content: { "application/json": { schema: collector.ref(method.input) } },
          },
        },
      };
      if (method.idempotency === MethodOptions_IdempotencyLevel.NO_SIDE_EFFECTS) {
        path.get = {
          ...operation,
          operationId: `${service.name}.${method.name}.get`,
          parameters: [
            { name: "connect", in: "query", required: true, schema: { const: "v1" } },
            { name: "encoding", in: "query", required: true, schema: { const: "json" } },
            {
              name: "message",
              in: "query",
              required: true,
              description: `The ${method.input.typeName} request as JSON (URL-encoded).`,
              content: { "application/json": { schema: collector.ref(method.input) } },
            },
          ],
        };
      }
      paths[`/${service.typeName}/${method.name}`] = path;
    }
  }
  return {
    openapi: "3.1.0",
    info: {
      title: "ostmesh public API",
      version: "v1",
      description:
        "Connect JSON routes of the ticket, identity, attachment and notification services (also reachable with gRPC and gRPC-Web, JSON or binary; streaming methods are available through Connect clients), and osTicket's legacy REST API.",
    },
    paths,
    components: {
      schemas: collector.schemas,
      securitySchemes: {
        bearer: {
          type: "http",
          scheme: "bearer",
          bearerFormat: "JWT",
          description: "ostmesh access token or an accepted OIDC token.",
        },
        apiKey: { type: "apiKey", in: "header", name: "X-API-Key" },
      },
    },
  };
}
