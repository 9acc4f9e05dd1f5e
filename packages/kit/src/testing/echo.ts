/**
 * A tiny RPC service for kit's own tests (deadlines, limits, tracing across hops, shutdown). It is not a
 * contract of the mesh, so it is described in code rather than in proto/:
 *
 *   package ostmesh.kit.testing.v1;
 *   service EchoService {
 *     rpc Say(google.protobuf.StringValue) returns (google.protobuf.StringValue);
 *     rpc Relay(google.protobuf.StringValue) returns (google.protobuf.StringValue);
 *     rpc Count(google.protobuf.Int32Value) returns (stream google.protobuf.Int32Value);
 *   }
 */
import { create, toBinary } from "@bufbuild/protobuf";
import { fileDesc, type GenService, serviceDesc } from "@bufbuild/protobuf/codegenv2";
import { base64Encode } from "@bufbuild/protobuf/wire";
import {
  FileDescriptorProtoSchema,
  file_google_protobuf_wrappers,
  type Int32ValueSchema,
  type StringValueSchema,
} from "@bufbuild/protobuf/wkt";

const method = (name: string, input: string, output: string, serverStreaming = false) => ({
  name,
  inputType: `.google.protobuf.${input}`,
  outputType: `.google.protobuf.${output}`,
  serverStreaming,
});

const proto = create(FileDescriptorProtoSchema, {
  name: "ostmesh/kit/testing/v1/echo.proto",
  package: "ostmesh.kit.testing.v1",
  dependency: ["google/protobuf/wrappers.proto"],
  syntax: "proto3",
  service: [
    {
      name: "EchoService",
      method: [
        method("Say", "StringValue", "StringValue"),
        method("Relay", "StringValue", "StringValue"),
        method("Count", "Int32Value", "Int32Value", true),
      ],
    },
  ],
});

export const file_echo = fileDesc(base64Encode(toBinary(FileDescriptorProtoSchema, proto), "std_raw"), [
  file_google_protobuf_wrappers,
]);

export const EchoService: GenService<{
  say: { methodKind: "unary"; input: typeof StringValueSchema; output: typeof StringValueSchema };
  relay: { methodKind: "unary"; input: typeof StringValueSchema; output: typeof StringValueSchema };
  count: { methodKind: "server_streaming"; input: typeof Int32ValueSchema; output: typeof Int32ValueSchema };
}> = serviceDesc(file_echo, 0);
