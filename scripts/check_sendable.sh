#!/usr/bin/env bash
# check_sendable.sh - the handles' Sendable story (Sources/RingFormat/AsyncSequences.swift),
# checked by the Swift 6 compiler against the built RingFormat module: handing a consumer
# or a producer to one task compiles without a diagnostic, and sharing one handle between
# two tasks, or using it after handing it over, is refused as a data race.
#
#   scripts/check_sendable.sh [BUILD_DIR]     (default .build/debug; run after swift build)
#
# Region-based isolation is checked on SIL, so the snippets go through -emit-sil
# (-typecheck alone would accept the races).
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${1:-.build/debug}
SWIFTC=${SWIFTC:-swiftc}
[ -f "$BUILD/Modules/RingFormat.swiftmodule" ] || { echo "check_sendable: no $BUILD/Modules/RingFormat.swiftmodule (swift build first)" >&2; exit 2; }
# The C shims of swift-atomics, which the RingFormat module imports.
ATOMICS_SHIMS=$(find .build/checkouts/swift-atomics/Sources/_AtomicsShims -name module.modulemap | head -1)
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

# Compiles a snippet to SIL; its diagnostics are in $TMP/NAME.log.
compile() {
    local name=$1
    "$SWIFTC" -emit-sil -o /dev/null -swift-version 6 -I "$BUILD/Modules" \
        -Xcc -fmodule-map-file="$BUILD/CRingSys.build/module.modulemap" \
        -Xcc -fmodule-map-file="$ATOMICS_SHIMS" \
        "$TMP/$name.swift" > "$TMP/$name.log" 2>&1
}

cat > "$TMP/positive.swift" <<'EOF'
import RingFormat

// One task owns the consumer, another the producer; the ring stays with the caller.
func handOver(_ path: String) async throws -> Int {
    let ring = try Ring.open(at: path)
    let consumer = try ring.makeConsumer()
    let producer = try ring.makeProducer()
    let reading = Task { [consumer] in
        var count = 0
        for try await _ in consumer.messages { count += 1 }
        return count
    }
    let writing = Task { [producer] in
        try await producer.send([1, 2, 3])
        producer.closeWriter()
    }
    _ = ring.capacity
    try await writing.value
    return try await reading.value
}

// An actor, and the main actor, may hold a handle and await on it.
actor Drain {
    let consumer: RingConsumer
    init(_ consumer: sending RingConsumer) { self.consumer = consumer }
    func next() async throws -> [UInt8] { try await consumer.receive() }
}

@MainActor func onMain(_ consumer: RingConsumer) async throws {
    for try await message in consumer.messages { _ = message }
}
EOF

cat > "$TMP/two_tasks.swift" <<'EOF'
import RingFormat

func twoTasks(_ path: String) async throws {
    let consumer = try Ring.open(at: path).makeConsumer()
    let first = Task { for try await _ in consumer.messages {} }
    let second = Task { for try await _ in consumer.messages {} }
    try await first.value
    try await second.value
}
EOF

cat > "$TMP/use_after_send.swift" <<'EOF'
import RingFormat

func useAfterSend(_ path: String) async throws {
    let producer = try Ring.open(at: path).makeProducer()
    let writing = Task { try await producer.send([1]) }
    try await producer.send([2])
    try await writing.value
}
EOF

status=0
if compile positive && ! grep -qE "warning|error" "$TMP/positive.log"; then
    echo "check_sendable: handing a handle to one task compiles cleanly: ok"
else
    echo "check_sendable: FAIL: the positive snippet did not compile cleanly:" >&2
    cat "$TMP/positive.log" >&2
    status=1
fi
for name in two_tasks use_after_send; do
    if compile "$name"; then
        echo "check_sendable: FAIL: $name compiled; the compiler should refuse it" >&2
        status=1
    elif grep -q "risks causing data races" "$TMP/$name.log"; then
        echo "check_sendable: $name is refused as a data race: ok ($(grep -m1 -o "error: .*" "$TMP/$name.log"))"
    else
        echo "check_sendable: FAIL: $name failed, but not with a data-race diagnostic:" >&2
        cat "$TMP/$name.log" >&2
        status=1
    fi
done
exit $status
