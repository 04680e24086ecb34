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
        // The seeded, self-checking message workload of the tests and interop programs.
        .target(name: "RingWorkload"),
        // Command-line tool: create, produce, consume, inspect and dump ring files.
        .executableTarget(name: "ringctl", dependencies: ["RingFormat", "RingWorkload"]),
        .testTarget(
            name: "RingFormatTests",
            dependencies: ["RingFormat", "RingWorkload", "CRingSys"]
        ),
    ]
)
