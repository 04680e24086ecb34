// swift-tools-version:6.0
//
// RingFormat: a versioned shared-memory ring buffer file format (SPEC.md),
// its Swift implementation, and the tools around it.

import PackageDescription

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
    ],
    targets: [
        // The few system calls Swift cannot reach directly (futex, OFD locks).
        .target(name: "CRingSys", path: "Sources/CRingSys"),
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
        // Command-line tool: create, produce, consume, inspect and dump ring files.
        .executableTarget(name: "ringctl", dependencies: ["RingFormat", "RingWorkload"]),
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
