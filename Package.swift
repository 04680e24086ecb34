// swift-tools-version:6.0
//
// RingFormat: a versioned shared-memory ring buffer file format (SPEC.md),
// its Swift implementation, and the tools around it.

import PackageDescription
import Foundation

/// The one version of the package, libringformat and ringpy: the file VERSION beside this manifest.
let version = (try? String(contentsOfFile: URL(fileURLWithPath: #filePath).deletingLastPathComponent()
    .appendingPathComponent("VERSION").path, encoding: .utf8))?
    .trimmingCharacters(in: .whitespacesAndNewlines) ?? "unknown"

let package = Package(
    name: "RingFormat",
    products: [
        .library(name: "RingFormat", targets: ["RingFormat"]),
        .executable(name: "ringctl", targets: ["ringctl"]),
        // libringformat.so: the C ABI (build it with `make lib` for a self-contained library).
        .library(name: "ringformat", type: .dynamic, targets: ["CRingABI"]),
        // libringformat.a: the same C ABI as an archive (`make static` prelinks it with the Swift runtime).
        .library(name: "ringformat-static", type: .static, targets: ["CRingABI"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-atomics.git", from: "1.3.0"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
    ],
    targets: [
        // The few system calls Swift cannot reach directly (futex, OFD locks).
        .target(name: "CRingSys", path: "Sources/CRingSys",
                cSettings: [.define("RINGFORMAT_VERSION_STRING", to: "\"\(version)\"")]),
        // The one core: SPEC.md in Swift. No Foundation.
        .target(
            name: "RingFormat",
            dependencies: [
                "CRingSys",
                .product(name: "Atomics", package: "swift-atomics"),
            ]
        ),
        // The public C header, as a module the Swift exports can use.
        .target(name: "CRingFormatHeader", path: "Sources/CRingABI/include", publicHeadersPath: "."),
        // The C ABI: @_cdecl exports over the core (include/ringformat.h).
        .target(name: "CRingABI", dependencies: ["RingFormat", "CRingSys", "CRingFormatHeader"], exclude: ["include", "build"]),
        // The seeded, self-checking message workload of the tests and interop programs.
        .target(name: "RingWorkload", dependencies: ["RingFormat"]),
        // The operator's command-line tool: create, write, read, peek, tail, inspect, stats,
        // validate, list and dump ring files.
        .executableTarget(name: "ringctl", dependencies: [
            "RingFormat", "RingWorkload", "RingZmq",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),
        // The test tool: seeded self-checking workloads, the kill tests' crash peers, golden vectors.
        .executableTarget(name: "ring-workload", dependencies: ["RingFormat", "RingWorkload"],
                          path: "Sources/RingWorkloadTool"),
        // Benchmarks of the Swift side (make bench).
        .executableTarget(name: "ring-bench", dependencies: ["RingFormat", "RingWorkload", "CRingSys", .product(name: "Atomics", package: "swift-atomics")],
                         path: "Sources/RingBench"),
        // Fuzz target over open + read (make fuzz); built normally, it replays a corpus.
        .executableTarget(name: "ring-fuzz", dependencies: ["RingFormat", "RingWorkload"], path: "Sources/RingFuzz"),
        .testTarget(
            name: "RingFormatTests",
            dependencies: ["RingFormat", "RingWorkload", "CRingSys", .product(name: "Atomics", package: "swift-atomics")]
        ),
    ]
)

// The ZeroMQ transport and bridge (SPEC.md §23, §24), kept apart so that the base products
// do not need libzmq: RingFormat and the `ringformat` C library (`make lib` builds only that
// product) link nothing of it. RingZmq, its tests, ringctl (for `ringctl bridge`) and
// `swift build` of every target need the system libzmq (Debian libzmq3-dev, found with
// pkg-config `libzmq`; scripts/bootstrap.sh installs it as root).
package.products.append(.library(name: "RingZmq", targets: ["RingZmq"]))
package.targets.append(contentsOf: [
    // The system libzmq, as a module (Sources/CZmq/module.modulemap).
    .systemLibrary(name: "CZmq", path: "Sources/CZmq", pkgConfig: "libzmq",
                   providers: [.apt(["libzmq3-dev"])]),
    // Rings over ZeroMQ: frames of SPEC.md §23, producers and consumers of one endpoint. No Foundation.
    .target(name: "RingZmq", dependencies: ["CZmq", "RingFormat"]),
    .testTarget(name: "RingZmqTests", dependencies: ["RingZmq", "RingFormat", "CZmq"]),
])
// The Swift peer of the cross-language transport matrix (interop/run_zmq_matrix.py).
package.targets.append(.executableTarget(name: "ring-zmq-peer", dependencies: ["RingZmq", "RingFormat", "RingWorkload"],
                                         path: "Sources/RingZmqPeer"))
// The Swift ends of the ZeroMQ benchmark (bench/zmq_table.py, make bench).
package.targets.append(.executableTarget(name: "ring-zmq-bench", dependencies: ["RingZmq", "RingFormat"],
                                         path: "Sources/RingZmqBench"))
// libringformat_zmq.so: the transport's C ABI (Sources/CRingZmqABI/include/ringformat_zmq.h),
// a library of its own so that libringformat needs no libzmq (build it with `make lib-zmq`).
package.products.append(.library(name: "ringformat_zmq", type: .dynamic, targets: ["CRingZmqABI"]))
package.targets.append(contentsOf: [
    .target(name: "CRingZmqHeader", dependencies: ["CRingFormatHeader"], path: "Sources/CRingZmqABI/include",
            publicHeadersPath: "."),
    .target(name: "CRingZmqABI", dependencies: ["RingZmq", "RingFormat", "CRingSys", "CRingZmqHeader",
                                                 .product(name: "Atomics", package: "swift-atomics")],
            exclude: ["include", "build"]),
])
