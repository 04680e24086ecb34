// SystemCalls.swift - the raw system calls of the core, in one place. Each
// wrapper retries on EINTR where that is meaningful and turns a failure into
// RingError.system(operation:errno:).

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import CRingSys

/// Thin wrappers over the system calls RingFormat makes.
package enum SystemCalls {
    /// The calling thread's errno.
    static var lastErrno: Int32 { errno }

    static func failure(_ operation: String, _ code: Int32 = errno) -> RingError {
        .system(operation: operation, errno: code)
    }

    /// open(2) with O_CLOEXEC, retried on EINTR.
    static func openFile(_ path: String, flags: Int32, mode: UInt32 = 0) throws(RingError) -> Int32 {
        while true {
            let fd = path.withCString { open($0, flags | O_CLOEXEC, mode_t(mode)) }
            if fd >= 0 { return fd }
            if errno != EINTR { throw failure("open") }
        }
    }

    /// close(2), through ringsys_close: with classic POSIX locks the close waits
    /// until this process holds no role lock on the file (SPEC.md §11.2). Errors
    /// are ignored (the descriptor is gone either way on Linux).
    static func closeFile(_ fd: Int32) {
        ringsys_close(fd)
    }

    /// The size of the open file, from fstat(2).
    static func fileSize(_ fd: Int32) throws(RingError) -> Int {
        var st = stat()
        guard fstat(fd, &st) == 0 else { throw failure("fstat") }
        return Int(st.st_size)
    }

    /// The size of the open file, which must be a regular file: a directory is
    /// `system(EISDIR)`, any other kind `system(EINVAL)` (SPEC.md §13).
    static func regularFileSize(_ fd: Int32) throws(RingError) -> Int {
        var st = stat()
        guard fstat(fd, &st) == 0 else { throw failure("fstat") }
        switch st.st_mode & S_IFMT {
        case S_IFREG: return Int(st.st_size)
        case S_IFDIR: throw failure("open", EISDIR)
        default: throw failure("open: not a regular file", EINVAL)
        }
    }

    /// ftruncate(2), retried on EINTR.
    static func truncate(_ fd: Int32, to size: Int) throws(RingError) {
        while ftruncate(fd, off_t(size)) != 0 {
            if errno != EINTR { throw failure("ftruncate") }
        }
    }

    /// pread(2) of exactly `buffer.count` bytes, or fewer at end of file. Returns the count read.
    static func readFully(_ fd: Int32, into buffer: UnsafeMutableRawBufferPointer, at offset: Int) throws(RingError) -> Int {
        var done = 0
        while done < buffer.count {
            let n = pread(fd, buffer.baseAddress! + done, buffer.count - done, off_t(offset + done))
            if n < 0 {
                if errno == EINTR { continue }
                throw failure("pread")
            }
            if n == 0 { break }
            done += n
        }
        return done
    }

    /// pwrite(2) of all of `buffer`.
    static func writeFully(_ fd: Int32, _ buffer: UnsafeRawBufferPointer, at offset: Int) throws(RingError) {
        var done = 0
        while done < buffer.count {
            let n = pwrite(fd, buffer.baseAddress! + done, buffer.count - done, off_t(offset + done))
            if n < 0 {
                if errno == EINTR { continue }
                throw failure("pwrite")
            }
            done += n
        }
    }

    /// fsync(2).
    static func sync(_ fd: Int32) throws(RingError) {
        while fsync(fd) != 0 {
            if errno != EINTR { throw failure("fsync") }
        }
    }

    /// A shared, read-write mapping of the first `length` bytes of `fd`.
    static func mapShared(_ fd: Int32, length: Int) throws(RingError) -> UnsafeMutableRawPointer {
        let p = mmap(nil, length, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0)
        guard let p, p != MAP_FAILED else { throw failure("mmap") }
        return p
    }

    /// munmap(2).
    static func unmap(_ base: UnsafeMutableRawPointer, length: Int) {
        _ = munmap(base, length)
    }

    /// msync(2) with MS_SYNC: the mapping's dirty pages reach the file.
    static func syncMapping(_ base: UnsafeMutableRawPointer, length: Int) throws(RingError) {
        guard msync(base, length, MS_SYNC) == 0 else { throw failure("msync") }
    }

    /// link(2): gives `from` the additional name `to`; fails with EEXIST if `to` exists.
    static func linkFile(_ from: String, _ to: String) throws(RingError) {
        let rc = from.withCString { f in to.withCString { t in link(f, t) } }
        guard rc == 0 else { throw failure("link") }
    }

    /// rename(2): replaces `to` atomically.
    static func renameFile(_ from: String, _ to: String) throws(RingError) {
        let rc = from.withCString { f in to.withCString { t in rename(f, t) } }
        guard rc == 0 else { throw failure("rename") }
    }

    /// unlink(2); errors are ignored.
    static func unlinkFile(_ path: String) {
        _ = path.withCString { unlink($0) }
    }

    /// The process id.
    static var processID: Int32 { getpid() }

    /// The system page size.
    static var pageSize: Int { Int(sysconf(Int32(_SC_PAGESIZE))) }

    /// Nanoseconds on the monotonic clock.
    package static func monotonicNanoseconds() -> UInt64 {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return UInt64(ts.tv_sec) &* 1_000_000_000 &+ UInt64(ts.tv_nsec)
    }

    /// Sleeps the calling thread for about `nanoseconds`.
    static func sleep(nanoseconds: UInt64) {
        var ts = timespec(tv_sec: Int(nanoseconds / 1_000_000_000), tv_nsec: Int(nanoseconds % 1_000_000_000))
        var left = timespec()
        while nanosleep(&ts, &left) != 0 && errno == EINTR { ts = left }
    }

    /// Yields the processor to another runnable thread.
    static func yield() {
        _ = sched_yield()
    }
}
