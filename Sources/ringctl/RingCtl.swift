// RingCtl.swift - ringctl, the operator's tool for RingFormat ring files: the
// root command, its subcommands, and how failures become exit codes.
//
// Exit codes: 0 success (and for --help, --version); 1 the ring or the system
// refused (the message names the path and says why; `validate` exits 1 when
// the file is not sound); 2 the command line was wrong (an unknown command or
// option, or a value out of range).

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import ArgumentParser
import RingFormat

@main
struct RingCtl: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ringctl",
        abstract: "Create, read, watch, inspect and check RingFormat ring files.",
        discussion: """
            A ring file is shared by one producer and one consumer process (SPEC.md). \
            peek, tail, inspect, stats, validate, list and dump never consume a message and \
            take no role, so they are safe on a live ring; read consumes.
            Exit status: 0 success, 1 the ring or the system refused (validate: the file \
            is not sound), 2 a wrong command line.
            """,
        version: Ring.libraryVersion,
        subcommands: [Create.self, Write.self, Read.self, Peek.self, Tail.self, Inspect.self,
                      Stats.self, Validate.self, List.self, Dump.self, Bridge.self])

    /// Runs the command line; prints one line "ringctl: ..." for a failure.
    static func main() {
        do {
            var command = try parseAsRoot()
            try command.run()
        } catch let error as RingError {
            fail(error.description, status: 1)
        } catch let error as Failure {
            fail(error.message, status: error.status)
        } catch let code as ExitCode {
            // A command that printed its own report (validate --json) and only sets the status.
            terminate(code.rawValue)
        } catch {
            let code = exitCode(for: error)
            if code == .success {
                // --help, --version: ArgumentParser's text on stdout.
                Output.line(fullMessage(for: error))
                terminate(0)
            }
            let isUsage = code == .validationFailure
            // One line: the message, and where to look for the usage.
            let text = message(for: error).split(separator: "\n").first.map(String.init) ?? "\(error)"
            fail(isUsage ? text + " (see '\(helpCommand())')" : text, status: isUsage ? 2 : code.rawValue)
        }
    }

    /// "ringctl COMMAND --help" for the subcommand on the command line, else "ringctl --help".
    static func helpCommand() -> String {
        let arguments = CommandLine.arguments.dropFirst()
        let names = configuration.subcommands.map { $0._commandName }
        if let first = arguments.first, names.contains(first) { return "ringctl \(first) --help" }
        return "ringctl --help"
    }

    /// Writes "ringctl: `text`" to standard error and exits with `status`.
    static func fail(_ text: String, status: Int32) -> Never {
        Output.error("ringctl: \(text)")
        terminate(status)
    }

    /// Ends the process with `status`.
    static func terminate(_ status: Int32) -> Never {
        #if canImport(Glibc)
        Glibc.exit(status)
        #else
        Darwin.exit(status)
        #endif
    }
}

/// A failure a subcommand reports: one line, and the exit status.
struct Failure: Error {
    /// What went wrong, with the path.
    let message: String
    /// 1: the ring or the system refused; 2: the command line was wrong.
    let status: Int32

    /// The ring at `path` refused: "`path`: `error`".
    static func ring(_ path: String, _ error: RingError) -> Failure {
        Failure(message: "\(path): \(error)", status: 1)
    }
}

/// Opens the ring at `path`, reporting a refusal as "PATH: why".
func openRing(_ path: String) throws(Failure) -> Ring {
    do { return try Ring.open(at: path) } catch { throw .ring(path, error) }
}

/// Runs `body`, reporting a RingError it throws as "`path`: why".
func onRing<T>(_ path: String, _ body: () throws(RingError) -> T) throws(Failure) -> T {
    do { return try body() } catch { throw .ring(path, error) }
}
