"""Descriptors of protobuf messages as JSON-able dicts, for the schema tests (tensorboard_read.py, onnx_check.py)."""
from google.protobuf.descriptor import FieldDescriptor

TYPES = {v: k[len('TYPE_'):].lower() for k, v in vars(FieldDescriptor).items() if k.startswith('TYPE_')}


def message(d, out):
    """Adds message descriptor d (and its nested messages and enums) to out = {'messages': {}, 'enums': {}}."""
    fields = {}
    for f in d.fields:
        t = TYPES[f.type]
        if t == 'message':
            t = f.message_type.full_name
        elif t == 'enum':
            t = f.enum_type.full_name
        fields[f.name] = {'id': f.number, 'type': t, 'repeated': bool(f.is_repeated)}
    out['messages'][d.full_name] = fields
    for n in d.nested_types:
        message(n, out)
    for e in d.enum_types:
        out['enums'][e.full_name] = {v.name: v.number for v in e.values}


def schema(messages, enums=()):
    out = {'messages': {}, 'enums': {}}
    for m in messages:
        message(m.DESCRIPTOR, out)
    for e in enums:
        out['enums'][e.DESCRIPTOR.full_name] = {v.name: v.number for v in e.DESCRIPTOR.values}
    return out
