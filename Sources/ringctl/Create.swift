// Create.swift - `ringctl create`: make a ring file (SPEC.md §7).

import ArgumentParser
import RingFormat

struct Create: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Create a ring file.",
        discussion: """
            The capacity is rounded up to a power of two (at least 4096) and the file's \
            blocks are allocated up front (headerSize + capacity bytes on disk). The file \
            appears complete or not at all.
            """)

    @Argument(help: "Path of the ring file to create.")
    var path: String

    @Option(parsing: .unconditional, help: "Bytes of the data region (rounded up to a power of two, 4096 to 2^40).")
    var capacity: String = "1048576"

    @Option(help: "What a write into a full ring does: reject (tell the writer) or overwrite (drop the oldest).")
    var policy: PolicyArgument = .reject

    @Option(parsing: .unconditional, help: "Permission bits of the new file, octal, at most 777.")
    var mode: String = "600"

    @Option(name: .customLong("initial-position"), parsing: .unconditional,
            help: "Both positions start here (a multiple of 8; with --item-type an item count, any value).")
    var initialPosition: String = "0"

    @Option(parsing: .unconditional,
            help: "Reader slots: 0 makes a 1.0 ring with one consumer; 1 to 496 a 1.1 ring that many readers can read at once.")
    var readers: String = "0"

    @Option(parsing: .unconditional,
            help: "Producer slots: 0 makes a ring with one producer; 1 to 16 a 1.1 ring that many producers write into at once (reject-when-full only).")
    var producers: String = "0"

    @Option(name: .customLong("item-type"),
            help: "Make a typed ring of fixed-size items of this type (SPEC.md §19.2, e.g. \"<f8\" or \"{ts:<i8@0,px:<f8@8}16\"); --capacity then counts items.")
    var itemType: String?

    @Option(name: .customLong("item-alignment"), parsing: .unconditional,
            help: "With --item-type: what the items are aligned for (a power of two up to 64 dividing the size; default: the largest up to 8).")
    var itemAlignment: String = "0"

    @Flag(help: "Replace an existing file at the path (atomically).")
    var replace = false

    @Flag(name: .customLong("open-or-create"), help: "Use an existing ring at the path instead of failing.")
    var openOrCreate = false

    @Flag(name: .customLong("allow-shared"),
          help: "With --open-or-create: accept a ring another user owns or others may write.")
    var allowShared = false

    @Flag(name: .customLong("accept-any-geometry"),
          help: "With --open-or-create: accept an existing ring whose capacity or policy differ.")
    var acceptAnyGeometry = false

    @Flag(name: .customLong("no-counts"),
          help: "Make the ring without message counts (no COMPAT_COUNTS, SPEC.md §22.2), as earlier versions did.")
    var noCounts = false

    func validate() throws {
        _ = try checked("--capacity", capacity, Limits.capacity)
        _ = try checked("--mode", mode, Limits.mode)
        _ = try checked("--initial-position", initialPosition, itemType == nil ? Limits.position : Limits.itemPosition)
        _ = try checked("--readers", readers, Limits.readerSlots)
        _ = try checked("--producers", producers, Limits.producerSlots)
        _ = try checked("--item-alignment", itemAlignment, Limits.itemAlignment)
        if let itemType {
            do throws(RingError) { _ = try ItemType(itemType) } catch {
                throw ValidationError("--item-type: \(error)")
            }
        } else if itemAlignment != "0" {
            throw ValidationError("--item-alignment needs --item-type")
        }
        if openOrCreate && (replace || initialPosition != "0") {
            throw ValidationError("--open-or-create cannot be used with --replace or --initial-position")
        }
        if (allowShared || acceptAnyGeometry) && !openOrCreate {
            throw ValidationError("--allow-shared and --accept-any-geometry need --open-or-create")
        }
    }

    func run() throws {
        let capacity = Int(try checked("--capacity", capacity, Limits.capacity))
        let mode = UInt32(try checked("--mode", mode, Limits.mode))
        let start = try checked("--initial-position", initialPosition, itemType == nil ? Limits.position : Limits.itemPosition)
        let slots = Int(try checked("--readers", readers, Limits.readerSlots))
        let producerSlots = Int(try checked("--producers", producers, Limits.producerSlots))
        let policy = policy.policy
        let alignment = Int(try checked("--item-alignment", itemAlignment, Limits.itemAlignment))
        let ring = try onRing(path) { () throws(RingError) -> Ring in
            let type = try itemType.map { (text) throws(RingError) in try ItemType(text) }
            if openOrCreate {
                return try Ring.openOrCreate(at: path, capacity: capacity, policy: policy, mode: mode,
                                             allowShared: allowShared, acceptAnyGeometry: acceptAnyGeometry,
                                             readerSlots: slots, producerSlots: producerSlots,
                                             itemType: type, itemAlignment: alignment, keepsCounts: !noCounts)
            }
            if let type {
                return try Ring.createItems(at: path, type: type, itemCapacity: capacity, itemAlignment: alignment,
                                            policy: policy, mode: mode, replaceExisting: replace, initialPosition: start)
            }
            return try Ring.create(at: path, capacity: capacity, policy: policy, mode: mode,
                                   replaceExisting: replace, initialPosition: start, readerSlots: slots,
                                   producerSlots: producerSlots, keepsCounts: !noCounts)
        }
        print("ring \(path) capacity \(ring.capacity) policy \(ring.policy)"
              + (slots > 0 ? " readers \(ring.geometry.readerSlots)" : "")
              + (producerSlots > 0 ? " producers \(ring.geometry.producerSlots)" : "")
              + (ring.itemType.map { " items \(ring.geometry.itemCapacity) of \"\($0)\"" } ?? ""))
    }
}
