#!/usr/bin/env python3
"""Extract Kafka request frames from a pcap (Python 3 stdlib only).

    pcap_to_frames.py <capture.pcap> <broker_port> <out_dir> [--summary FILE]

Reads a classic libpcap file (as written by `tcpdump -w`), reassembles every
client->broker TCP stream (destination port == broker_port) by sequence
number, splits each stream into Kafka frames (int32 big-endian size prefix)
and writes every kept REQUEST frame *without* its 4-byte size prefix to

    <out_dir>/<NNN>-<api_key>-<ApiName>-v<api_version>.bin

NNN is the 3-digit index of the kept frame in capture order (frames ordered
by the timestamp of the packet that completed them).  api_key/api_version are
the first two int16 fields of the request header.

Dedupe: at most 3 frames per (api_key, api_version).  Produce frames are
bucketed by (api_version, compression codec of the record batch) instead, at
most 2 per bucket, so every codec a client used is kept.  Frames >= 64 KiB
are skipped.

Prints one tab-separated line per kept file on stdout
(file, api_key, name, version, client_id, note).
"""
import os
import struct
import sys

API_NAMES = {
    0: "Produce", 1: "Fetch", 2: "ListOffsets", 3: "Metadata",
    4: "LeaderAndIsr", 5: "StopReplica", 6: "UpdateMetadata",
    7: "ControlledShutdown", 8: "OffsetCommit", 9: "OffsetFetch",
    10: "FindCoordinator", 11: "JoinGroup", 12: "Heartbeat",
    13: "LeaveGroup", 14: "SyncGroup", 15: "DescribeGroups",
    16: "ListGroups", 17: "SaslHandshake", 18: "ApiVersions",
    19: "CreateTopics", 20: "DeleteTopics", 21: "DeleteRecords",
    22: "InitProducerId", 23: "OffsetForLeaderEpoch",
    24: "AddPartitionsToTxn", 25: "AddOffsetsToTxn", 26: "EndTxn",
    27: "WriteTxnMarkers", 28: "TxnOffsetCommit", 29: "DescribeAcls",
    30: "CreateAcls", 31: "DeleteAcls", 32: "DescribeConfigs",
    33: "AlterConfigs", 34: "AlterReplicaLogDirs", 35: "DescribeLogDirs",
    36: "SaslAuthenticate", 37: "CreatePartitions",
    38: "CreateDelegationToken", 39: "RenewDelegationToken",
    40: "ExpireDelegationToken", 41: "DescribeDelegationToken",
    42: "DeleteGroups", 43: "ElectLeaders", 44: "IncrementalAlterConfigs",
    45: "AlterPartitionReassignments", 46: "ListPartitionReassignments",
    47: "OffsetDelete", 48: "DescribeClientQuotas",
    49: "AlterClientQuotas", 50: "DescribeUserScramCredentials",
    51: "AlterUserScramCredentials", 55: "DescribeQuorum",
    56: "AlterPartition", 57: "UpdateFeatures", 58: "Envelope",
    60: "DescribeCluster", 61: "DescribeProducers",
    64: "UnregisterBroker", 65: "DescribeTransactions",
    66: "ListTransactions", 67: "AllocateProducerIds",
    68: "ConsumerGroupHeartbeat",
}

# First flexible (KIP-482, request header v2) version per api key.
FIRST_FLEXIBLE = {
    0: 9, 1: 12, 2: 6, 3: 9, 8: 8, 9: 6, 10: 3, 11: 6, 12: 4, 13: 4,
    14: 4, 15: 5, 16: 3, 17: 99, 18: 3, 19: 5, 20: 4, 21: 2, 22: 2,
    23: 4, 24: 3, 25: 3, 26: 3, 28: 3, 29: 2, 30: 2, 31: 2, 32: 4,
    33: 2, 35: 2, 36: 2, 37: 2, 42: 2, 43: 2, 44: 1, 47: 99, 60: 0,
}

CODECS = {0: "none", 1: "gzip", 2: "snappy", 3: "lz4", 4: "zstd"}

MAX_FRAME = 64 * 1024
MAX_PER_KEY = 3
MAX_PER_PRODUCE_CODEC = 2


# ---------------------------------------------------------------- pcap ----

def read_pcap(path):
    """Yields (ts, linktype, frame_bytes)."""
    with open(path, "rb") as f:
        data = f.read()
    if len(data) < 24:
        return
    magic = data[:4]
    if magic in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1"):
        endian = "<"
    elif magic in (b"\xa1\xb2\xc3\xd4", b"\xa1\xb2\x3c\x4d"):
        endian = ">"
    else:
        raise SystemExit("%s: not a classic pcap file (pcapng?)" % path)
    nano = magic in (b"\x4d\x3c\xb2\xa1", b"\xa1\xb2\x3c\x4d")
    linktype = struct.unpack(endian + "I", data[20:24])[0] & 0x0FFFFFFF
    off = 24
    while off + 16 <= len(data):
        sec, frac, incl, _orig = struct.unpack(endian + "IIII",
                                               data[off:off + 16])
        off += 16
        pkt = data[off:off + incl]
        off += incl
        if len(pkt) < incl:
            break  # truncated last record (capture killed mid-write)
        yield sec + frac / (1e9 if nano else 1e6), linktype, pkt


def l3_payload(linktype, pkt):
    """Returns (ethertype_or_af, l3 bytes) or None."""
    if linktype == 1:  # DLT_EN10MB
        if len(pkt) < 14:
            return None
        etype = struct.unpack(">H", pkt[12:14])[0]
        off = 14
        while etype in (0x8100, 0x88A8) and len(pkt) >= off + 4:  # VLAN
            etype = struct.unpack(">H", pkt[off + 2:off + 4])[0]
            off += 4
        return etype, pkt[off:]
    if linktype in (0, 108):  # DLT_NULL (host order) / DLT_LOOP (network)
        if len(pkt) < 4:
            return None
        af_le = struct.unpack("<I", pkt[:4])[0]
        af_be = struct.unpack(">I", pkt[:4])[0]
        af = af_le if af_le < 256 else af_be
        return (0x0800 if af == 2 else 0x86DD), pkt[4:]
    if linktype == 113:  # DLT_LINUX_SLL
        if len(pkt) < 16:
            return None
        return struct.unpack(">H", pkt[14:16])[0], pkt[16:]
    if linktype == 276:  # DLT_LINUX_SLL2
        if len(pkt) < 20:
            return None
        return struct.unpack(">H", pkt[0:2])[0], pkt[20:]
    if linktype in (101, 12, 14):  # DLT_RAW variants
        if not pkt:
            return None
        return (0x0800 if pkt[0] >> 4 == 4 else 0x86DD), pkt
    raise SystemExit("unsupported pcap link type %d" % linktype)


def tcp_segment(etype, ip):
    """Returns (src, dst, sport, dport, seq, flags, payload) or None."""
    if etype == 0x0800:
        if len(ip) < 20 or ip[0] >> 4 != 4:
            return None
        ihl = (ip[0] & 0x0F) * 4
        total = struct.unpack(">H", ip[2:4])[0]
        if ip[9] != 6:
            return None
        src, dst = ip[12:16], ip[16:20]
        seg = ip[ihl:total] if total >= ihl else ip[ihl:]
    elif etype == 0x86DD:
        if len(ip) < 40:
            return None
        plen = struct.unpack(">H", ip[4:6])[0]
        if ip[6] != 6:  # no extension header support needed for lo
            return None
        src, dst = ip[8:24], ip[24:40]
        seg = ip[40:40 + plen]
    else:
        return None
    if len(seg) < 20:
        return None
    sport, dport, seq = struct.unpack(">HHI", seg[:8])
    doff = (seg[12] >> 4) * 4
    flags = seg[13]
    return src, dst, sport, dport, seq, flags, seg[doff:]


# -------------------------------------------------------------- streams ---

class Stream:
    def __init__(self, key):
        self.key = key
        self.isn = None   # seq of first payload byte
        self.segs = {}    # relative offset -> (payload, ts)

    def add(self, seq, flags, payload, ts):
        SYN = 0x02
        if flags & SYN:
            self.isn = (seq + 1) & 0xFFFFFFFF
            return
        if not payload:
            return
        if self.isn is None:  # capture started mid-connection
            self.isn = seq
        rel = (seq - self.isn) & 0xFFFFFFFF
        prev = self.segs.get(rel)
        if prev is None or len(prev[0]) < len(payload):
            self.segs[rel] = (payload, ts)

    def assemble(self):
        """Returns (bytes, [(end_offset, ts), ...]) of the contiguous prefix."""
        buf = bytearray()
        marks = []
        for rel in sorted(self.segs):
            payload, ts = self.segs[rel]
            if rel > len(buf):
                sys.stderr.write("warning: gap in stream %r at %d, "
                                 "stopping\n" % (self.key, len(buf)))
                break
            new = payload[len(buf) - rel:]
            if new:
                buf += new
                marks.append((len(buf), ts))
        return bytes(buf), marks


def frames(stream):
    data, marks = stream.assemble()
    off, mi = 0, 0
    while off + 4 <= len(data):
        size = struct.unpack(">i", data[off:off + 4])[0]
        if size < 0 or off + 4 + size > len(data):
            if size >= 0:
                sys.stderr.write("warning: truncated frame at end of %r\n"
                                 % (stream.key,))
            break
        end = off + 4 + size
        while mi < len(marks) and marks[mi][0] < end:
            mi += 1
        ts = marks[mi][1] if mi < len(marks) else marks[-1][1]
        yield ts, data[off + 4:end]
        off = end


# ------------------------------------------------------- kafka parsing ----

class Reader:
    def __init__(self, b, off=0):
        self.b, self.off = b, off

    def take(self, n):
        if self.off + n > len(self.b):
            raise ValueError("short")
        v = self.b[self.off:self.off + n]
        self.off += n
        return v

    def i8(self): return struct.unpack(">b", self.take(1))[0]
    def i16(self): return struct.unpack(">h", self.take(2))[0]
    def i32(self): return struct.unpack(">i", self.take(4))[0]
    def i64(self): return struct.unpack(">q", self.take(8))[0]

    def uvarint(self):
        shift = v = 0
        while True:
            c = self.take(1)[0]
            v |= (c & 0x7F) << shift
            if not c & 0x80:
                return v
            shift += 7

    def string(self):
        n = self.i16()
        return None if n < 0 else self.take(n).decode("utf-8", "replace")

    def cstring(self):  # compact string
        n = self.uvarint() - 1
        return None if n < 0 else self.take(n).decode("utf-8", "replace")

    def tagged(self):
        for _ in range(self.uvarint()):
            self.uvarint()
            self.take(self.uvarint())


def parse_header(frame):
    r = Reader(frame)
    api_key, ver, _corr = r.i16(), r.i16(), r.i32()
    client_id = r.string()  # client_id stays a non-compact string
    flexible = ver >= FIRST_FLEXIBLE.get(api_key, 99)
    # ApiVersions v3+ uses request header v2; ControlledShutdown v0 uses v0.
    if flexible:
        r.tagged()
    return api_key, ver, client_id, flexible, r


def produce_codecs(ver, flexible, r):
    """Returns sorted set of codec names found in the Produce request."""
    codecs = set()
    if ver >= 3:
        r.cstring() if flexible else r.string()  # transactional_id
    r.i16()  # acks
    r.i32()  # timeout
    ntopics = r.uvarint() - 1 if flexible else r.i32()
    for _ in range(max(ntopics, 0)):
        r.cstring() if flexible else r.string()
        nparts = r.uvarint() - 1 if flexible else r.i32()
        for _ in range(max(nparts, 0)):
            r.i32()
            size = r.uvarint() - 1 if flexible else r.i32()
            recs = r.take(size) if size > 0 else b""
            off = 0
            while off + 17 <= len(recs):
                length = struct.unpack(">i", recs[off + 8:off + 12])[0]
                magic = recs[off + 16]
                if magic >= 2 and off + 23 <= len(recs):
                    attrs = struct.unpack(">h", recs[off + 21:off + 23])[0]
                else:  # legacy message: crc(4) magic(1) attributes(1)
                    attrs = recs[off + 17] if off + 18 <= len(recs) else 0
                codecs.add(CODECS.get(attrs & 7, "codec%d" % (attrs & 7)))
                off += 12 + max(length, 0)
            if flexible:
                r.tagged()
        if flexible:
            r.tagged()
    return sorted(codecs)


# ------------------------------------------------------------------ main ---

def main(argv):
    args = [a for a in argv[1:]]
    summary_path = None
    if "--summary" in args:
        i = args.index("--summary")
        summary_path = args[i + 1]
        del args[i:i + 2]
    if len(args) != 3:
        sys.stderr.write(__doc__)
        return 2
    pcap, port, out_dir = args[0], int(args[1]), args[2]

    streams, order = {}, []
    for ts, linktype, pkt in read_pcap(pcap):
        l3 = l3_payload(linktype, pkt)
        if not l3:
            continue
        seg = tcp_segment(*l3)
        if not seg:
            continue
        src, dst, sport, dport, seq, flags, payload = seg
        if dport != port:
            continue  # broker -> client (responses): not wanted
        key = (src, sport, dst, dport)
        st = streams.get(key)
        if st is None or (flags & 0x02 and st.segs):  # port reuse: new conn
            st = Stream(key)
            streams[key] = st
            order.append(st)
        st.add(seq, flags, payload, ts)

    all_frames = []
    for si, st in enumerate(order):
        for ts, fr in frames(st):
            all_frames.append((ts, si, fr))
    all_frames.sort(key=lambda t: (t[0], t[1]))

    os.makedirs(out_dir, exist_ok=True)
    counts, kept, total = {}, [], 0
    for ts, si, fr in all_frames:
        total += 1
        if len(fr) < 8:
            continue
        try:
            api_key, ver, client_id, flexible, r = parse_header(fr)
        except ValueError:
            continue
        note = ""
        if api_key == 0:
            try:
                codecs = produce_codecs(ver, flexible, r)
            except ValueError:
                codecs = ["?"]
            note = "codec=" + "+".join(codecs)
            bucket, limit = (0, ver, note), MAX_PER_PRODUCE_CODEC
        else:
            bucket, limit = (api_key, ver), MAX_PER_KEY
        if len(fr) >= MAX_FRAME or counts.get(bucket, 0) >= limit:
            continue
        counts[bucket] = counts.get(bucket, 0) + 1
        kept.append((api_key, ver, client_id, note, fr))

    lines = []
    for n, (api_key, ver, client_id, note, fr) in enumerate(kept):
        name = API_NAMES.get(api_key, "Unknown%d" % api_key)
        fname = "%03d-%d-%s-v%d.bin" % (n, api_key, name, ver)
        with open(os.path.join(out_dir, fname), "wb") as f:
            f.write(fr)
        lines.append("\t".join([fname, str(api_key), name, str(ver),
                                client_id or "", note]))
    text = "".join(l + "\n" for l in lines)
    sys.stdout.write(text)
    if summary_path:
        with open(summary_path, "w") as f:
            f.write(text)
    sys.stderr.write("%s: %d streams, %d request frames, %d kept\n"
                     % (pcap, len(order), total, len(kept)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
