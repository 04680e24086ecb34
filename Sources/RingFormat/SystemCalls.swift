// SystemCalls.swift - the raw system calls of the core, in one place, after
// swift-system: a descriptor is a `FileDescriptor`, not a bare integer; every
// call that reports failure as -1 and errno goes through one funnel,
// `valueOrErrno(retryOnInterrupt:)`, which has the one EINTR policy; cleanup
// is `closeAfter`, not a close on every error path.

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import CRingSys

/// Runs `call`, a system call that returns -1 and sets errno on failure, and
/// returns its value or throws `system(operation:errno:)`. With
/// `retryOnInterrupt` (the default) a call that failed with EINTR is made again.
@inline(__always)
func valueOrErrno<T: FixedWidthInteger>(
    _ operation: String, retryOnInterrupt: Bool = true, _ call: () -> T
) throws(RingError) -> T {
    while true {
        let value = call()
        if value != -1 { return value }
        let code = errno
        if retryOnInterrupt && code == EINTR { continue }
        throw .system(operation: operation, errno: code)
    }
}

/// open(2) of `path` (a free function: inside FileDescriptor `open` names the method).
private func openPath(_ path: RingPath, _ flags: Int32, _ mode: UInt32) -> Int32 {
    path.withCString { open($0, flags, mode_t(mode)) }
}

/// An open file descriptor of the core. Ring files are closed through
/// ringsys_close (SPEC.md §11.2: with classic POSIX locks a close waits until this
/// process holds no role lock on the file).
struct FileDescriptor: Sendable, Equatable {
    /// The descriptor number.
    let rawValue: Int32

    /// Opens `path`; O_CLOEXEC is always added. The corresponding C function is `open`.
    static func open(_ path: RingPath, _ flags: Int32, mode: UInt32 = 0) throws(RingError) -> FileDescriptor {
        FileDescriptor(rawValue: try valueOrErrno("open \(path)") { openPath(path, flags | O_CLOEXEC, mode) })
    }

    /// Closes the descriptor; errors are ignored (Linux frees the number even
    /// when close reports EINTR, so it is never retried). See ringsys_close.
    func close() {
        ringsys_close(rawValue)
    }

    /// Runs `body`, then closes the descriptor if `body` threw; returns what it returned.
    func closeOnError<R>(_ body: () throws(RingError) -> R) throws(RingError) -> R {
        do { return try body() } catch { close(); throw error }
    }

    /// Runs `body`, then closes the descriptor whatever happened.
    func closeAfter<R>(_ body: () throws(RingError) -> R) throws(RingError) -> R {
        defer { close() }
        return try body()
    }

    /// The size of the file, which must be a regular file: a directory is
    /// `system(EISDIR)`, any other kind `system(EINVAL)` (SPEC.md §13). The
    /// corresponding C function is `fstat`.
    func regularFileSize() throws(RingError) -> Int {
        var st = stat()
        _ = try valueOrErrno("fstat") { fstat(rawValue, &st) }
        switch st.st_mode & S_IFMT {
        case S_IFREG: return Int(st.st_size)
        case S_IFDIR: throw .system(operation: "open", errno: EISDIR)
        default: throw .system(operation: "open: not a regular file", errno: EINVAL)
        }
    }

    /// The owner and the permission bits of the file. The corresponding C function is `fstat`.
    func ownerAndMode() throws(RingError) -> (owner: UInt32, mode: UInt32) {
        var st = stat()
        _ = try valueOrErrno("fstat") { fstat(rawValue, &st) }
        return (st.st_uid, UInt32(st.st_mode) & 0o7777)
    }

    /// The size of the file. The corresponding C function is `fstat`.
    func size() throws(RingError) -> Int {
        var st = stat()
        _ = try valueOrErrno("fstat") { fstat(rawValue, &st) }
        return Int(st.st_size)
    }

    /// Sets the file's size. The corresponding C function is `ftruncate`.
    func resize(to size: Int) throws(RingError) {
        _ = try valueOrErrno("ftruncate") { ftruncate(rawValue, off_t(size)) }
    }

    /// Reads `buffer.count` bytes at `offset`, or fewer at the end of the file;
    /// returns how many. The corresponding C function is `pread`.
    func read(into buffer: UnsafeMutableRawBufferPointer, at offset: Int) throws(RingError) -> Int {
        var done = 0
        while done < buffer.count {
            let n = try valueOrErrno("pread") {
                pread(rawValue, buffer.baseAddress! + done, buffer.count - done, off_t(offset + done))
            }
            if n == 0 { break }
            done += n
        }
        return done
    }

    /// Writes all of `buffer` at `offset`. The corresponding C function is `pwrite`.
    func write(_ buffer: UnsafeRawBufferPointer, at offset: Int) throws(RingError) {
        var done = 0
        while done < buffer.count {
            done += try valueOrErrno("pwrite") {
                pwrite(rawValue, buffer.baseAddress! + done, buffer.count - done, off_t(offset + done))
            }
        }
    }

    /// Writes the file's data and metadata to the device. The corresponding C function is `fsync`.
    func sync() throws(RingError) {
        _ = try valueOrErrno("fsync") { fsync(rawValue) }
    }

    /// The file's data region mapped twice after its header (SPEC.md §20.1), or nil where the
    /// host cannot (sizes not page multiples, or the fixed mappings failed). The
    /// corresponding C function is `ringsys_map_double`.
    func mapDouble(headerSize: Int, capacity: Int) -> UnsafeMutableRawPointer? {
        ringsys_map_double(rawValue, headerSize, capacity)
    }

    /// A new open file description of the same file, close-on-exec: role locks belong to open
    /// file descriptions (SPEC.md §11.3), so a ring opened from a descriptor must not share the
    /// caller's. Linux reopens `/proc/self/fd/N` (a memfd too); where there is no /proc, the
    /// descriptor is duplicated (sharing the description, and so its locks). The corresponding
    /// C function is `open`.
    func reopen() throws(RingError) -> FileDescriptor {
        while true {
            let fd = openPath(RingPath("/proc/self/fd/\(rawValue)"), O_RDWR | O_CLOEXEC, 0)
            if fd >= 0 { return FileDescriptor(rawValue: fd) }
            let code = errno
            if code == EINTR { continue }
            guard code == ENOENT else { throw .system(operation: "open /proc/self/fd/\(rawValue)", errno: code) }
            return try duplicate()
        }
    }

    /// What the file behind the descriptor is called, for messages: `memfd:NAME` for a ring
    /// without a file (SPEC.md §20.2), the path of a file, or `descriptor N`.
    func name() -> String {
        var buffer = [CChar](repeating: 0, count: 4096)
        let n = RingPath("/proc/self/fd/\(rawValue)").withCString { readlink($0, &buffer, buffer.count - 1) }
        guard n > 0 else { return "descriptor \(rawValue)" }
        var text = String(decoding: buffer[..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
        if text.hasPrefix("/memfd:") {
            text.removeFirst()
            if text.hasSuffix(" (deleted)") { text.removeLast(" (deleted)".count) }
        }
        return text
    }

    /// A new descriptor of the same open file description, close-on-exec. The corresponding
    /// C function is `fcntl(F_DUPFD_CLOEXEC)`.
    func duplicate() throws(RingError) -> FileDescriptor {
        FileDescriptor(rawValue: try valueOrErrno("fcntl(F_DUPFD_CLOEXEC) of descriptor \(rawValue)") {
            fcntl(rawValue, F_DUPFD_CLOEXEC, 0)
        })
    }

    /// A new anonymous shared-memory file (SPEC.md §20.2). The corresponding C function is `ringsys_memfd`.
    static func anonymous(name: String) throws(RingError) -> FileDescriptor {
        let fd = ringsys_memfd(name)
        guard fd >= 0 else { throw .system(operation: "memfd_create \(name)", errno: -fd) }
        return FileDescriptor(rawValue: fd)
    }

    /// A shared, read-write mapping of the first `length` bytes. The corresponding C function is `mmap`.
    func mapShared(length: Int) throws(RingError) -> UnsafeMutableRawPointer {
        let p = mmap(nil, length, PROT_READ | PROT_WRITE, MAP_SHARED, rawValue, 0)
        guard let p, p != MAP_FAILED else { throw .system(operation: "mmap", errno: errno) }
        return p
    }
}

/// The system calls of the core that take no descriptor.
package enum SystemCalls {
    /// munmap(2).
    static func unmap(_ base: UnsafeMutableRawPointer, length: Int) {
        _ = munmap(base, length)
    }

    /// msync(2) with MS_SYNC: the mapping's dirty pages reach the file.
    static func syncMapping(_ base: UnsafeMutableRawPointer, length: Int) throws(RingError) {
        _ = try valueOrErrno("msync") { msync(base, length, MS_SYNC) }
    }

    /// link(2): gives `from` the additional name `to`; fails with EEXIST if `to` exists.
    static func linkFile(_ from: RingPath, _ to: RingPath) throws(RingError) {
        _ = try valueOrErrno("link \(to)") { from.withCString { f in to.withCString { t in link(f, t) } } }
    }

    /// rename(2): replaces `to` atomically.
    static func renameFile(_ from: RingPath, _ to: RingPath) throws(RingError) {
        _ = try valueOrErrno("rename \(from) to \(to)") { from.withCString { f in to.withCString { t in rename(f, t) } } }
    }

    /// Whether `path` itself (not what it points to) is a symbolic link, from lstat(2).
    static func isSymbolicLink(_ path: RingPath) -> Bool {
        var st = stat()
        guard path.withCString({ lstat($0, &st) }) == 0 else { return false }
        return st.st_mode & S_IFMT == S_IFLNK
    }

    /// The effective user id of this process.
    static var effectiveUserID: UInt32 { geteuid() }

    /// unlink(2); errors are ignored.
    static func unlinkFile(_ path: RingPath) {
        _ = path.withCString { unlink($0) }
    }

    /// The system page size.
    static var pageSize: Int { Int(sysconf(Int32(_SC_PAGESIZE))) }

    /// Nanoseconds on the monotonic clock.
    package static func monotonicNanoseconds() -> UInt64 {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return UInt64(ts.tv_sec) &* 1_000_000_000 &+ UInt64(ts.tv_nsec)
    }

    /// Sleeps the calling thread for about `nanoseconds` (an interrupted sleep goes on).
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
