"""The stdlib TensorBoard writer: CRC-32C against its published check value, and the file read back by an
independent decoder of TFRecord framing and the protobuf wire format."""
import struct

from torl_cluster.tensorboard import ScalarWriter, crc32c, masked_crc32c


def test_crc32c_check_values():
    assert crc32c(b"123456789") == 0xE3069283  # the CRC-32C (Castagnoli) check value
    assert crc32c(b"") == 0
    assert crc32c(bytes(32)) == 0x8A9136AA  # RFC 3720 B.4: 32 bytes of zeros


def read_varint(data, at):
    value, shift = 0, 0
    while True:
        byte = data[at]
        at += 1
        value |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            return value, at


def fields(data):
    at, out = 0, []
    while at < len(data):
        key, at = read_varint(data, at)
        number, kind = key >> 3, key & 7
        if kind == 0:
            value, at = read_varint(data, at)
        elif kind == 1:
            value, at = struct.unpack("<d", data[at:at + 8])[0], at + 8
        elif kind == 5:
            value, at = struct.unpack("<f", data[at:at + 4])[0], at + 4
        elif kind == 2:
            length, at = read_varint(data, at)
            value, at = data[at:at + length], at + length
        else:
            raise AssertionError("unexpected wire type %d" % kind)
        out.append((number, value))
    return out


def records(path):
    data = open(path, "rb").read()
    at = 0
    while at < len(data):
        header = data[at:at + 8]
        (length,) = struct.unpack("<Q", header)
        assert struct.unpack("<I", data[at + 8:at + 12])[0] == masked_crc32c(header)
        body = data[at + 12:at + 12 + length]
        assert struct.unpack("<I", data[at + 12 + length:at + 16 + length])[0] == masked_crc32c(body)
        yield body
        at += 16 + length


def test_scalars_read_back(tmp_path):
    writer = ScalarWriter(str(tmp_path), prefix="train")
    writer(3, {"loss": 0.5, "reward_mean": -0.25, "kl": None, "note": "text", "flag": True, "bad": float("nan")})
    writer.close()
    events = [dict_of(fields(body)) for body in records(writer.path)]
    assert events[0][3] == b"brain.Event:2"
    assert events[1][2] == 3
    values = [dict_of(fields(v)) for number, v in fields(events[1][5]) if number == 1]
    assert {v[1].decode(): v[2] for v in values} == {"train/loss": 0.5, "train/reward_mean": -0.25}


def dict_of(pairs):
    return dict(pairs)
