"""Reads TensorBoard event files with the tensorboard package, for test/tensorboard.test.ts.

  python3 tensorboard_read.py events DIR    every scalar and text of the run in DIR, as JSON, read by EventAccumulator
  python3 tensorboard_read.py schema        TensorBoard's own descriptors of the messages and enums we write, as JSON
"""
import json
import sys

from tensorboard.backend.event_processing import event_accumulator
from tensorboard.compat.proto import event_pb2, summary_pb2, tensor_pb2, tensor_shape_pb2, types_pb2

import proto_schema


def schema():
    return proto_schema.schema(
        (event_pb2.Event, event_pb2.SourceMetadata, event_pb2.SessionLog, summary_pb2.SummaryMetadata,
         summary_pb2.Summary, tensor_pb2.TensorProto, tensor_shape_pb2.TensorShapeProto),
        (summary_pb2.DataClass, types_pb2.DataType))


def events(path):
    acc = event_accumulator.EventAccumulator(path, size_guidance={event_accumulator.SCALARS: 0, event_accumulator.TENSORS: 0})
    acc.Reload()
    tags = acc.Tags()
    scalars = {t: [[e.step, e.value] for e in acc.Scalars(t)] for t in tags['scalars']}
    texts = {}
    for t in tags['tensors']:
        texts[t] = [[e.step, [s.decode('utf8') for s in e.tensor_proto.string_val]] for e in acc.Tensors(t)]
    return {'scalars': scalars, 'texts': texts, 'fileVersion': acc.file_version}


if __name__ == '__main__':
    print(json.dumps(schema() if sys.argv[1] == 'schema' else events(sys.argv[2])))
