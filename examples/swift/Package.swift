// swift-tools-version:6.0
//
// The Swift examples of RingFormat: a producer and a consumer, two programs sharing one ring
// file. scripts/run_examples.sh builds and runs them (`make test-examples`).
//
// SwiftPM knows a path dependency by the last component of its path (here the folder the
// repository was cloned into, whatever it is called); `name:` gives it the name that
// `.product(name:package:)` uses, so this builds from a clone in any folder.

import PackageDescription

let package = Package(
    name: "RingFormatExamples",
    dependencies: [
        .package(name: "RingFormat", path: "../.."),
    ],
    targets: [
        .executableTarget(name: "producer", dependencies: [.product(name: "RingFormat", package: "RingFormat")]),
        .executableTarget(name: "consumer", dependencies: [.product(name: "RingFormat", package: "RingFormat")]),
        .executableTarget(name: "readers", dependencies: [.product(name: "RingFormat", package: "RingFormat")]),
        .executableTarget(name: "producers", dependencies: [.product(name: "RingFormat", package: "RingFormat")]),
        .executableTarget(name: "typed", dependencies: [.product(name: "RingFormat", package: "RingFormat")]),
        .executableTarget(name: "async", dependencies: [.product(name: "RingFormat", package: "RingFormat")]),
        // Needs the system libzmq (Debian libzmq3-dev), as the RingZmq product does.
        .executableTarget(name: "zmq", dependencies: [.product(name: "RingFormat", package: "RingFormat"),
                                                      .product(name: "RingZmq", package: "RingFormat")]),
    ]
)
