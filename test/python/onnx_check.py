"""ONNX's own checks, for test/onnx.test.ts.

  python3 onnx_check.py check FILE...   onnx.checker.check_model(full_check=True) on each file (shape inference
                                        included); prints one JSON line per file: opset, IR version, inputs, outputs,
                                        metadata
  python3 onnx_check.py schema          ONNX's descriptors of the messages and enums we write, as JSON
"""
import json
import sys

import onnx
from onnx import onnx_ml_pb2 as P

import proto_schema


def schema():
    return proto_schema.schema((P.AttributeProto, P.ValueInfoProto, P.NodeProto, P.ModelProto, P.StringStringEntryProto,
                                P.GraphProto, P.TensorProto, P.TensorShapeProto, P.TypeProto, P.OperatorSetIdProto))


def dims(v):
    return [d.dim_param or d.dim_value for d in v.type.tensor_type.shape.dim]


def check(path):
    model = onnx.load(path)
    onnx.checker.check_model(model, full_check=True)
    return {
        'file': path,
        'irVersion': model.ir_version,
        'opset': {o.domain: o.version for o in model.opset_import},
        'inputs': {i.name: dims(i) for i in model.graph.input},
        'outputs': {o.name: dims(o) for o in model.graph.output},
        'metadata': {p.key: p.value for p in model.metadata_props},
        'ops': sorted({n.op_type for n in model.graph.node}),
    }


if __name__ == '__main__':
    if sys.argv[1] == 'schema':
        print(json.dumps(schema()))
    else:
        for f in sys.argv[2:]:
            print(json.dumps(check(f)))
