#!/usr/bin/env bash
# capture.sh - record the exact Kafka request bytes real clients send.
#
#   tools/capture/capture.sh [client ...]
#
# clients: kcat librdkafka-cpp kafka-python confluent-kafka-python
# (default: all).  Needs root (tcpdump on lo), gcc/g++, librdkafka-dev,
# kcat, tcpdump, Debian's python3-kafka / python3-confluent-kafka
# (+ python3-snappy python3-lz4 python3-zstandard for kafka-python codecs).
#
# For every client: start tools/capture/mock_broker.c (librdkafka mock
# cluster, 1 broker, one listening port), tcpdump that port on lo, run the
# client, stop, and let pcap_to_frames.py write the client->broker request
# frames to tests/data/captures/<client>/.  Each client's folder is
# replaced.  Set KEEP_WORK=1 to keep the temp dir (pcaps, logs).
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
OUT="$ROOT/tests/data/captures"
PY=/usr/bin/python3   # Debian python with python3-kafka & confluent-kafka
TOPIC=golden
WORK="$(mktemp -d /tmp/sluice-capture.XXXXXX)"
chmod 755 "$WORK"     # tcpdump may drop privileges before writing

MOCK_PID=""; TCPDUMP_PID=""
cleanup() {
    [[ -n "$TCPDUMP_PID" ]] && kill -INT "$TCPDUMP_PID" 2>/dev/null || true
    [[ -n "$MOCK_PID" ]] && kill -TERM "$MOCK_PID" 2>/dev/null || true
    wait 2>/dev/null || true
    if [[ "${KEEP_WORK:-0}" == 1 ]]; then
        echo "work dir kept: $WORK" >&2
    else
        rm -rf "$WORK"
    fi
}
trap cleanup EXIT

log() { echo "== $*" >&2; }

build() {
    log "building mock_broker and rdkafka_cpp_client in $WORK"
    gcc -O1 -Wall -o "$WORK/mock_broker" "$HERE/mock_broker.c" -lrdkafka
    g++ -std=c++20 -O1 -Wall -o "$WORK/rdkafka_cpp_client" \
        "$HERE/rdkafka_cpp_client.cc" -lrdkafka++ -lrdkafka
}

value() {  # small, compressible message value
    local s="sluice-golden-value-$1:"
    while (( ${#s} < 160 )); do s+="abcdefgh"; done
    printf '%s' "$s"
}

# ------------------------------------------------------------- clients ----

client_kcat() {
    local b="$1" z i
    kcat -V 2>&1 | head -1
    kcat -b "$b" -L
    kcat -b "$b" -L -t "$TOPIC"
    for z in none gzip snappy lz4 zstd; do
        for i in 0 1 2 3; do echo "key-$z-$i:$(value "$i")"; done |
            kcat -b "$b" -P -t "$TOPIC" -p 0 -K: -z "$z" \
                 -H "codec=$z" -H "app=sluice-capture" -X linger.ms=50
    done
    # idempotent producer -> InitProducerId
    for i in 0 1; do echo "idem-$i:$(value "$i")"; done |
        kcat -b "$b" -P -t "$TOPIC" -p 0 -K: -z zstd \
             -X enable.idempotence=true -X linger.ms=50
    kcat -b "$b" -C -t "$TOPIC" -o beginning -e -f '%k %h %s\n' >/dev/null
    kcat -b "$b" -Q -t "$TOPIC:0:-1" || true
    # balanced consumer: FindCoordinator/JoinGroup/SyncGroup/OffsetFetch/
    # Heartbeat/OffsetCommit, LeaveGroup on SIGINT.
    timeout -s INT 8 kcat -b "$b" -G kcat-group "$TOPIC" \
        -X auto.offset.reset=earliest -X heartbeat.interval.ms=500 \
        -X auto.commit.interval.ms=1000 -X session.timeout.ms=6000 \
        >/dev/null || true
}

client_librdkafka-cpp() {
    "$WORK/rdkafka_cpp_client" "$1" "$TOPIC" cpp-group
}

client_kafka-python() {
    "$PY" "$HERE/kafka_python_client.py" "$1" "$TOPIC" kafka-python-group
}

client_confluent-kafka-python() {
    "$PY" "$HERE/confluent_kafka_client.py" "$1" "$TOPIC" confluent-group
}

# ------------------------------------------------------------ harness -----

capture() {
    local name="$1" b port pcap="$WORK/$1.pcap" i
    log "capturing $name"
    "$WORK/mock_broker" "$TOPIC:1" "other:3" >"$WORK/$name.mock" \
        2>"$WORK/$name.mock.err" &
    MOCK_PID=$!
    for i in $(seq 50); do [[ -s "$WORK/$name.mock" ]] && break; sleep 0.1; done
    b="$(head -1 "$WORK/$name.mock")"
    port="${b##*:}"
    [[ "$port" =~ ^[0-9]+$ ]] || { echo "bad bootstrap '$b'" >&2; exit 1; }
    # The mock cluster has one broker: its bootstrap port must be the only
    # port the process listens on, otherwise the capture filter is wrong.
    local ports
    ports="$(ss -Hltnp | grep "pid=$MOCK_PID," | awk '{print $4}' |
             sed 's/.*://' | sort -u | tr '\n' ' ')"
    [[ "$ports" == "$port " ]] ||
        { echo "mock listens on '$ports', expected '$port'" >&2; exit 1; }
    log "$name: mock broker at $b"

    tcpdump -i lo -U --immediate-mode -s 0 -w "$pcap" "tcp port $port" \
        2>"$WORK/$name.tcpdump.err" &
    TCPDUMP_PID=$!
    for i in $(seq 50); do
        grep -q "listening on" "$WORK/$name.tcpdump.err" 2>/dev/null && break
        sleep 0.1
    done
    sleep 0.3

    ( "client_$name" "$b" ) >"$WORK/$name.log" 2>&1 ||
        log "$name: client exited non-zero (see log below)"
    sed 's/^/   | /' "$WORK/$name.log" | grep -v '^   | *$' | tail -40 >&2

    sleep 1
    kill -INT "$TCPDUMP_PID"; wait "$TCPDUMP_PID" || true; TCPDUMP_PID=""
    kill -TERM "$MOCK_PID"; wait "$MOCK_PID" || true; MOCK_PID=""
    sed 's/^/   tcpdump: /' "$WORK/$name.tcpdump.err" >&2

    rm -rf "${OUT:?}/$name"
    "$PY" "$HERE/pcap_to_frames.py" "$pcap" "$port" "$OUT/$name" \
        --summary "$OUT/$name.tsv.tmp" >/dev/null
    mv "$OUT/$name.tsv.tmp" "$WORK/$name.tsv"
    awk -F'\t' '{printf "   %-40s %s\n", $1, $6}' "$WORK/$name.tsv" >&2
}

CLIENTS=("$@")
(( ${#CLIENTS[@]} )) ||
    CLIENTS=(kcat librdkafka-cpp kafka-python confluent-kafka-python)
[[ $EUID -eq 0 ]] || { echo "tcpdump on lo needs root" >&2; exit 1; }
mkdir -p "$OUT"
build
for c in "${CLIENTS[@]}"; do
    declare -F "client_$c" >/dev/null || { echo "unknown client $c" >&2; exit 1; }
    capture "$c"
done
log "done; captures in $OUT"
du -sh "$OUT" >&2
