// Our .proto files against the real schema's descriptors (test/python/proto_schema.py's JSON): every message and
// field (number, type, label) and every enum value we declare must be the real one.
import type { ExecutionContext } from 'ava';
import * as fs from 'node:fs';
import * as protobuf from 'protobufjs';

export interface Descriptors {
  messages: Record<string, Record<string, { id: number; type: string; repeated: boolean }>>;
  enums: Record<string, Record<string, number>>;
}

/** Asserts protoFile's declarations against theirs; returns how many fields and enum values were checked. */
export function checkSchema(t: ExecutionContext, protoFile: string, theirs: Descriptors): { fields: number; values: number } {
  const root = protobuf.parse(fs.readFileSync(protoFile, 'utf8'), { keepCase: true }).root;
  root.resolveAll();
  let fields = 0;
  let values = 0;
  const walk = (ns: protobuf.NamespaceBase) => {
    for (const child of ns.nestedArray) {
      const name = child.fullName.slice(1);
      if (child instanceof protobuf.Type) {
        t.truthy(theirs.messages[name], `the real schema has no message ${name}`);
        for (const f of child.fieldsArray) {
          const type = f.resolvedType ? f.resolvedType.fullName.slice(1) : f.type;
          t.deepEqual({ id: f.id, type, repeated: f.repeated }, theirs.messages[name]?.[f.name], `${name}.${f.name}`);
          fields++;
        }
      } else if (child instanceof protobuf.Enum) {
        for (const [k, n] of Object.entries(child.values)) {
          t.is(theirs.enums[name]?.[k], n, `${name}.${k}`);
          values++;
        }
      }
      if (child instanceof protobuf.Namespace || child instanceof protobuf.Type) walk(child);
    }
  };
  walk(root);
  return { fields, values };
}
