"""Scalars for TensorBoard without TensorFlow or the tensorboard package: the event file format written with the
standard library (TFRecord framing with masked CRC-32C, and the three protobuf messages it needs encoded by hand).

    Event   {1: double wall_time, 2: int64 step, 3: string file_version, 5: Summary summary}
    Summary {1: repeated Value value}
    Value   {1: string tag, 2: float simple_value}
"""
import math
import os
import socket
import struct
import time


def _crc32c_table():
    table = []
    for byte in range(256):
        crc = byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0x82F63B78 if crc & 1 else crc >> 1
        table.append(crc)
    return table


_TABLE = _crc32c_table()


def crc32c(data):
    crc = 0xFFFFFFFF
    for byte in data:
        crc = _TABLE[(crc ^ byte) & 0xFF] ^ (crc >> 8)
    return crc ^ 0xFFFFFFFF


def masked_crc32c(data):
    crc = crc32c(data)
    return (((crc >> 15) | (crc << 17)) + 0xA282EAD8) & 0xFFFFFFFF


def _varint(value):
    out = bytearray()
    value &= (1 << 64) - 1
    while True:
        bits = value & 0x7F
        value >>= 7
        if value:
            out.append(bits | 0x80)
        else:
            out.append(bits)
            return bytes(out)


def _length_delimited(field_number, payload):
    return _varint(field_number << 3 | 2) + _varint(len(payload)) + payload


def encode_event(wall_time, step=None, file_version=None, scalars=None):
    event = _varint(1 << 3 | 1) + struct.pack("<d", wall_time)
    if step is not None:
        event += _varint(2 << 3 | 0) + _varint(step)
    if file_version is not None:
        event += _length_delimited(3, file_version.encode("utf-8"))
    if scalars:
        summary = b"".join(
            _length_delimited(1, _length_delimited(1, tag.encode("utf-8")) + _varint(2 << 3 | 5)
                              + struct.pack("<f", value))
            for tag, value in scalars)
        event += _length_delimited(5, summary)
    return event


def frame_record(data):
    length = struct.pack("<Q", len(data))
    return length + struct.pack("<I", masked_crc32c(length)) + data + struct.pack("<I", masked_crc32c(data))


class ScalarWriter:
    """Appends one event per step with every finite numeric metric as a scalar named `<prefix>/<key>`."""

    def __init__(self, directory, prefix="train"):
        os.makedirs(directory, exist_ok=True)
        self.prefix = prefix
        self.path = os.path.join(directory, "events.out.tfevents.%d.%s" % (int(time.time()), socket.gethostname()))
        self._file = open(self.path, "ab")
        self._write(encode_event(time.time(), file_version="brain.Event:2"))

    def _write(self, event):
        self._file.write(frame_record(event))
        self._file.flush()

    def __call__(self, step, metrics):
        scalars = [("%s/%s" % (self.prefix, key), float(value)) for key, value in sorted(metrics.items())
                   if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)]
        self._write(encode_event(time.time(), step=step, scalars=scalars))

    def close(self):
        self._file.close()
