// CreateOpenSafetyTests.swift - creating and opening rings where other users
// can plant names (SPEC.md §7, §7.1): no silent sharing, no endless loop, no
// mode bits beyond permissions, nothing left behind.

import Foundation
import Testing
import RingFormat
#if canImport(Glibc)
import Glibc
#endif

@Suite("Creating and opening safely (SPEC.md §7.1)")
struct CreateOpenSafetyTests {
    @Test(arguments: [0o4777, 0o2700, 0o1600, 0o10000, UInt32.max] as [UInt32])
    func modesBeyondPermissionBitsAreRefused(mode: UInt32) throws {
        let temp = TempRing()
        #expect {
            _ = try Ring.create(at: temp.path, capacity: 4096, mode: mode)
        } throws: { error in
            guard case RingError.invalidArgument = error else { return false }
            return true
        }
        #expect(!FileManager.default.fileExists(atPath: temp.path))
    }

    @Test func openOrCreateRefusesARingOthersMayWriteUnlessAllowed() throws {
        let temp = TempRing()
        _ = try Ring.create(at: temp.path, capacity: 4096)
        chmod(temp.path, 0o666)
        #expect {
            _ = try Ring.openOrCreate(at: temp.path, capacity: 4096)
        } throws: { error in
            guard case RingError.system(let operation, EPERM) = error else { return false }
            return operation.contains(temp.path) && operation.contains("writable")
        }
        _ = try Ring.openOrCreate(at: temp.path, capacity: 4096, allowShared: true)
        chmod(temp.path, 0o600)
        _ = try Ring.openOrCreate(at: temp.path, capacity: 4096)
    }

    @Test func openOrCreateOnADanglingSymbolicLinkFailsAtOnce() throws {
        let temp = TempRing()
        #expect(symlink(temp.directory + "/nowhere", temp.path) == 0)
        let start = ContinuousClock.now
        #expect {
            _ = try Ring.openOrCreate(at: temp.path, capacity: 4096)
        } throws: { error in
            guard case RingError.system(let operation, ENOENT) = error else { return false }
            return operation.contains("symbolic link")
        }
        #expect(seconds(since: start) < 1)
    }

    @Test func replacingLeavesNoOtherFileAndNoPredictableName() throws {
        let temp = TempRing()
        _ = try Ring.create(at: temp.path, capacity: 4096)
        // A planted file at the old predictable name no longer matters.
        let planted = "\(temp.path).tmp-\(getpid())-0"
        FileManager.default.createFile(atPath: planted, contents: Data([1]))
        for _ in 0..<3 { _ = try Ring.create(at: temp.path, capacity: 8192, replaceExisting: true) }
        let names = try FileManager.default.contentsOfDirectory(atPath: temp.directory).sorted()
        #expect(names == ["ring", "ring.tmp-\(getpid())-0"].sorted())
        #expect(try Ring.open(at: temp.path).capacity == 8192)
    }
}

@Suite("Open-or-create of a ring of another geometry")
struct OpenOrCreateGeometryTests {
    @Test func anotherCapacityOrPolicyIsRefusedUnlessAccepted() throws {
        let temp = TempRing()
        _ = try Ring.create(at: temp.path, capacity: 4096)
        _ = try Ring.openOrCreate(at: temp.path, capacity: 3000) // rounds to 4096: the same
        for (capacity, policy) in [(8192, RingPolicy.rejectWhenFull), (4096, .overwriteOldest)] {
            #expect {
                _ = try Ring.openOrCreate(at: temp.path, capacity: capacity, policy: policy)
            } throws: { error in
                guard case RingError.invalidArgument(let text) = error else { return false }
                return text.contains("capacity 4096") && text.contains(temp.path)
            }
            #expect(try Ring.openOrCreate(at: temp.path, capacity: capacity, policy: policy,
                                          acceptAnyGeometry: true).capacity == 4096)
        }
    }
}
