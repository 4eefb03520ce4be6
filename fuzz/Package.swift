// swift-tools-version:6.0
// libFuzzer harnesses for the transport's parsers. Run them with scripts/fuzz.sh (see docs/FUZZING.md);
// they build with -sanitize=fuzzer,address, which plain `swift build` of the root package never uses.
import PackageDescription

let package = Package(
    name: "learning-system-fuzz",
    dependencies: [.package(name: "learning-system", path: "..")],
    targets: [
        .executableTarget(name: "FuzzHTTP1Parser",
                          dependencies: [.product(name: "HTTP1Wire", package: "learning-system")],
                          swiftSettings: [.unsafeFlags(["-parse-as-library"])]),
        .executableTarget(name: "FuzzGRPCDeframer",
                          dependencies: [.product(name: "GRPCWire", package: "learning-system")],
                          swiftSettings: [.unsafeFlags(["-parse-as-library"])]),
    ]
)
