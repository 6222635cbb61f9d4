import random
import unittest

from torl_client.framing import FrameDecoder, FramingError, encode_frame


class FramingTests(unittest.TestCase):
    def test_round_trip_one_byte_at_a_time(self):
        messages = [{"jsonrpc": "2.0", "id": i, "method": "echo", "params": {"text": "é∑😀" * i}} for i in range(20)]
        stream = b"".join(encode_frame(m) for m in messages)
        decoder = FrameDecoder()
        decoded = []
        for i in range(len(stream)):
            decoded += decoder.feed(stream[i:i + 1])
        self.assertEqual(decoded, messages)

    def test_random_chunking(self):
        rng = random.Random(7)
        messages = [{"id": i, "x": "y" * rng.randrange(0, 3000)} for i in range(50)]
        stream = b"".join(encode_frame(m) for m in messages)
        decoder, decoded, at = FrameDecoder(), [], 0
        while at < len(stream):
            step = rng.randrange(1, 700)
            decoded += decoder.feed(stream[at:at + step])
            at += step
        self.assertEqual(decoded, messages)

    def test_content_length_counts_bytes_not_characters(self):
        frame = encode_frame({"t": "😀"})
        header, body = frame.split(b"\r\n\r\n")
        self.assertEqual(int(header.split(b":")[1]), len(body))

    def test_bad_headers_raise(self):
        with self.assertRaises(FramingError):
            FrameDecoder().feed(b"Content-Length: abc\r\n\r\n")
        with self.assertRaises(FramingError):
            FrameDecoder().feed(b"Content-Type: x\r\n\r\n")
        with self.assertRaises(FramingError):
            FrameDecoder(max_body_bytes=10).feed(b"Content-Length: 11\r\n\r\n")
        with self.assertRaises(FramingError):
            FrameDecoder().feed(b"x" * 9000)


if __name__ == "__main__":
    unittest.main()
