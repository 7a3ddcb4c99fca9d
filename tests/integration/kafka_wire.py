"""Hand-written Kafka wire pieces for requests no installed client sends (flexible versions):
unsigned varints, compact strings, and a reader for responses. Shared by the integration tests."""

import struct


def uvarint(n):
    out = b""
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out += bytes([b | 0x80])
        else:
            return out + bytes([b])


def compact_str(s):
    b = s.encode()
    return uvarint(len(b) + 1) + b


class Reader:
    def __init__(self, data):
        self.d = data
        self.i = 0

    def take(self, fmt):
        v = struct.unpack_from(fmt, self.d, self.i)
        self.i += struct.calcsize(fmt)
        return v[0]

    def uvarint(self):
        shift = n = 0
        while True:
            b = self.d[self.i]
            self.i += 1
            n |= (b & 0x7F) << shift
            shift += 7
            if not b & 0x80:
                return n

    def cstr(self):
        """A compact nullable string (None for null)."""
        n = self.uvarint()
        if n == 0:
            return None
        s = self.d[self.i:self.i + n - 1].decode()
        self.i += n - 1
        return s

    def string(self):
        s = self.cstr()
        return "" if s is None else s

    def array(self, item):
        return [item() for _ in range(self.uvarint() - 1)]

    def tags(self):
        for _ in range(self.uvarint()):
            self.uvarint()
            self.i += self.uvarint()

    def int32s(self):
        return self.array(lambda: self.take(">i"))
