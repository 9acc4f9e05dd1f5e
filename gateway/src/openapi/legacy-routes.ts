/**
 * Hand-written route metadata of osTicket's legacy API for the OpenAPI document (these routes have no
 * protobuf contract: their contract is osTicket 1.18.1's behaviour).
 */
const plain = (description: string) => ({
  description,
  content: { "text/html; charset=UTF-8": { schema: { type: "string" } } },
});

const keyErrors = {
  "400": plain(
    "`URL not supported` (unknown route, not logged); `Syntax error, malformed JSON`, `No errors` (empty JSON), `XML error: <message> at line L:C`, or a clear text for input osTicket would crash on (attachments given as an object).",
  ),
  "401": plain(
    "`Valid API key required` (no/unknown key or wrong client IP), `API key not found/active or source IP not authorized` (inactive key), `API key not authorized` (no permission for this route).",
  ),
  "413": plain("The body is larger than GATEWAY_LEGACY_MAX_BODY / GATEWAY_EMAIL_MAX_BODY (not logged)."),
  "429": plain("Too many requests from this API key or address; see Retry-After (not logged)."),
};

const ticketErrors = {
  ...keyErrors,
  "403": plain(
    "`Unable to create new ticket :Ticket denied: <email>\\n\\nThis help desk is for use by authorized users only` (ban list or a rejecting filter).",
  ),
  "500": plain(
    "Validation failure, osTicket's error map flattened: `Unable to create new ticket :user\\nIncomplete client information\\n20\\nIssue Summary is a required field`.",
  ),
};

const apiKeyHeader = {
  name: "X-API-Key",
  in: "header",
  required: true,
  description:
    "An osTicket API key (ost_api_key, bound to the client IP) or an ostmesh key with the needed scope.",
  schema: { type: "string" },
};

const ticketJsonSchema = {
  type: "object",
  description:
    "Keys as osTicket's API accepts them; unknown keys are accepted and logged to ost_syslog as `Unexpected Data`. Custom form fields by variable name.",
  required: ["email", "subject", "message"],
  properties: {
    email: { type: "string", description: "Requester e-mail (required)." },
    name: { type: "string", description: "Requester name (required for new users)." },
    subject: { type: "string" },
    message: {
      type: "string",
      description:
        "Plain text, or an RFC 2397 data URL (`data:text/html;charset=utf-8,<p>…</p>`); without `;charset=` the data is read as ISO-8859-1.",
    },
    alert: { description: 'PHP (bool) cast: false, 0 and "" are false; the string "false" is true.' },
    autorespond: { description: "Same cast as alert." },
    source: { type: "string", description: "API (default), Web (needs topicId) or Email (needs emailId)." },
    topicId: { description: "Help topic id; unknown or inactive ids become 0." },
    priority: { description: "Priority id (ticket form field)." },
    priorityId: { description: "Priority id (override)." },
    ip: { type: "string", description: "Recorded client IP (not validated)." },
    phone: { type: "string" },
    notes: { type: "string" },
    attachments: {
      type: "array",
      items: { type: "object", additionalProperties: { type: "string" } },
      description: 'A list of single-key objects: `[{"file.txt": "data:text/plain;base64,…"}]`.',
    },
  },
};

export const legacyPaths = {
  "/api/tickets.json": {
    post: {
      tags: ["Legacy osTicket API"],
      summary: "Create a ticket (JSON)",
      description:
        "osTicket 1.18.1's POST /api/tickets.json, answered exactly as osTicket does. Also at /api/http.php/tickets.json.",
      parameters: [apiKeyHeader],
      requestBody: { required: true, content: { "application/json": { schema: ticketJsonSchema } } },
      responses: { "201": plain("The new ticket's number, e.g. `832810`."), ...ticketErrors },
    },
  },
  "/api/tickets.xml": {
    post: {
      tags: ["Legacy osTicket API"],
      summary: "Create a ticket (XML)",
      description:
        'Root `<ticket>`; values as attributes or child elements; `<message type="text/html" encoding="…">`, `<phone ext="…">`, `<attachments><file name type encoding="base64">…</file></attachments>`. A truncated document is not a parse error.',
      parameters: [apiKeyHeader],
      requestBody: { required: true, content: { "application/xml": { schema: { type: "string" } } } },
      responses: { "201": plain("The new ticket's number."), ...ticketErrors },
    },
  },
  "/api/tickets.email": {
    post: {
      tags: ["Legacy osTicket API"],
      summary: "Ingest a raw RFC 822 e-mail",
      description:
        "Opens a ticket, threads a reply onto an existing one (Message-ID, In-Reply-To/References, or a [#number] subject from the owner), or recognises a re-delivery.",
      parameters: [apiKeyHeader],
      requestBody: { required: true, content: { "message/rfc822": { schema: { type: "string" } } } },
      responses: { "201": plain("The new or existing ticket's number."), ...ticketErrors },
    },
  },
  "/api/tasks/cron": {
    post: {
      tags: ["Legacy osTicket API"],
      summary: "Run the scheduled duties",
      description: "Marks overdue tickets. The key needs can_exec_cron (ostmesh keys: cron:run).",
      parameters: [apiKeyHeader],
      responses: { "200": plain("`Completed`"), ...keyErrors },
    },
  },
} as const;
