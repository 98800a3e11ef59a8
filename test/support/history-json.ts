import * as proto from '@temporalio/proto';
import { patchProtobufRoot } from '@temporalio/proto/lib/patch-protobuf-root';

/**
 * Workflow histories as Temporal's JSON (the format of `temporal workflow show --output json`
 * and the Web UI's download). `historyToJSON`/`historyFromJSON` of @temporalio/common fail in
 * this install ("type must be a Type"): @temporalio/common and @temporalio/proto each carry
 * their own protobufjs, and protojson refuses the other copy's types. So the protojson used
 * here is the one of the protobufjs that @temporalio/proto's types come from.
 */

type History = proto.temporal.api.history.v1.History;

/** Beside the histories in test/histories: each history's workflow id (a replay needs it, child ids derive from it). */
export const WORKFLOW_IDS_FILE = 'workflow-ids.json';

/** The two functions of protobufjs/ext/protojson used here (its types are those of the other copy). */
interface ProtoJson {
  toJson(type: unknown, message: unknown): unknown;
  fromJson(type: unknown, json: unknown, options: { ignoreUnknownFields: boolean }): Record<string, unknown>;
}

// eslint-disable-next-line @typescript-eslint/no-require-imports
const protojson = require(require.resolve('protobufjs/ext/protojson', { paths: [require.resolve('@temporalio/proto')] })) as ProtoJson;
const historyType = (patchProtobufRoot(proto) as unknown as { lookupType(name: string): unknown }).lookupType('temporal.api.history.v1.History');

export function historyToJSON(history: proto.temporal.api.history.v1.IHistory): string {
  return JSON.stringify(protojson.toJson(historyType, proto.temporal.api.history.v1.History.fromObject(history)), null, 2);
}

/** Tolerates fields this SDK does not know (a history from a newer server). */
export function historyFromJSON(text: string): History {
  return proto.temporal.api.history.v1.History.fromObject(protojson.fromJson(historyType, JSON.parse(text), { ignoreUnknownFields: true }));
}
