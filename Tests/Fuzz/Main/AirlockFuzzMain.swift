import AirlockFuzz
import Foundation

// Built normally, `airlock-fuzz` replays files through the fuzz targets (what the regression test
// does) and writes the queue seeds. Built by scripts/fuzz with `-sanitize=fuzzer,address
// -DFUZZING`, its main hands over to libFuzzer's driver (LLVMFuzzerRunDriver: SwiftPM links an
// executable's main to this module's entry point, so libFuzzer's own main cannot be used), which
// runs LLVMFuzzerTestOneInput; $AIRLOCK_FUZZ_TARGET names the target.

#if FUZZING

@_silgen_name("LLVMFuzzerRunDriver")
func LLVMFuzzerRunDriver(
    _ argc: UnsafeMutablePointer<CInt>,
    _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>>,
    _ callback: @convention(c) (UnsafePointer<UInt8>?, Int) -> CInt
) -> CInt

@main
struct AirlockFuzzDriver {
    static func main() {
        _ = fuzzTarget
        var argc = CommandLine.argc
        var argv = CommandLine.unsafeArgv
        exit(LLVMFuzzerRunDriver(&argc, &argv, { data, size in fuzzTestOneInput(data, size) }))
    }
}

let fuzzTarget: FuzzTarget = {
    let name = ProcessInfo.processInfo.environment["AIRLOCK_FUZZ_TARGET"] ?? ""
    guard let target = FuzzTarget(rawValue: name) else {
        FileHandle.standardError.write(Data("airlock-fuzz: set AIRLOCK_FUZZ_TARGET to one of \(FuzzTarget.allCases.map(\.rawValue).joined(separator: ", "))\n".utf8))
        exit(2)
    }
    return target
}()

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzTestOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let bytes = size == 0 ? [] : Array(UnsafeBufferPointer(start: data, count: size))
    let broken = fuzzTarget.run(bytes)
    if !broken.isEmpty {
        FileHandle.standardError.write(Data(("airlock-fuzz: invariant broken (\(fuzzTarget.rawValue)):\n" + broken.joined(separator: "\n") + "\n").utf8))
        abort()
    }
    return 0
}

#else

@main
struct AirlockFuzzCommand {
    static func main() {
        var arguments = Array(CommandLine.arguments.dropFirst())
        if arguments.first == "make-seeds" {
            guard arguments.count == 3, arguments[1] == "queue" else { usage() }
            do {
                try FuzzSeeds.makeQueueSeeds(into: arguments[2])
            } catch {
                fail("make-seeds: \(error)")
            }
            return
        }
        guard let name = arguments.first, let target = FuzzTarget(rawValue: name) else { usage() }
        arguments.removeFirst()
        if arguments.isEmpty {
            arguments = [FuzzPaths.corpus + "/" + name, FuzzPaths.regressions + "/" + name]
        }
        var files: [String] = []
        for path in arguments {
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else { continue }
            files += isDirectory.boolValue ? FuzzPaths.files(in: path) : [path]
        }
        var failures = 0
        for file in files {
            guard let data = FileManager.default.contents(atPath: file) else { fail("cannot read \(file)") }
            let broken = target.run(Array(data))
            if !broken.isEmpty {
                failures += 1
                print("\(file):\n  " + broken.joined(separator: "\n  "))
            }
        }
        print("airlock-fuzz \(name): \(files.count) inputs replayed, \(failures) broke an invariant")
        if failures > 0 { exit(1) }
    }

    static func usage() -> Never {
        fail("""
            usage: airlock-fuzz TARGET [FILE|DIR...]   replay inputs (default: Tests/Fuzz/Corpus/TARGET and Regressions/TARGET)
                   airlock-fuzz make-seeds queue DIR   write the queue seed corpus
            targets: \(FuzzTarget.allCases.map(\.rawValue).joined(separator: ", "))
            """)
    }

    static func fail(_ message: String) -> Never {
        FileHandle.standardError.write(Data("airlock-fuzz: \(message)\n".utf8))
        exit(2)
    }
}

#endif
