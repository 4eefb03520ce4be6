// swift-tools-version:6.0
// libFuzzer harnesses for the parsers of untrusted bytes. Run them with scripts/fuzz.sh (see docs/FUZZING.md);
// they build with -sanitize=fuzzer,address, which plain `swift build` of the root package never uses.
import PackageDescription

let package = Package(
    name: "learning-system-fuzz",
    dependencies: [.package(name: "learning-system", path: "..")],
    targets: [
        /// Declares libFuzzer's LLVMFuzzerRunDriver: SwiftPM renames an executable's `main` to
        /// `<Target>_main`, so each harness defines that and hands control to libFuzzer.
        .target(name: "CFuzzerDriver"),
        .executableTarget(name: "FuzzHTTP1Parser",
                          dependencies: ["CFuzzerDriver", .product(name: "HTTP1Wire", package: "learning-system")],
                          swiftSettings: [.unsafeFlags(["-parse-as-library"])]),
        .executableTarget(name: "FuzzGRPCDeframer",
                          dependencies: ["CFuzzerDriver", .product(name: "GRPCWire", package: "learning-system")],
                          swiftSettings: [.unsafeFlags(["-parse-as-library"])]),
        .executableTarget(name: "FuzzProtoWire",
                          dependencies: ["CFuzzerDriver", .product(name: "ProtobufCSupport", package: "learning-system")],
                          swiftSettings: [.unsafeFlags(["-parse-as-library"])]),
        .executableTarget(name: "FuzzOTLPDecoder",
                          dependencies: ["CFuzzerDriver", .product(name: "OTLPWire", package: "learning-system")],
                          swiftSettings: [.unsafeFlags(["-parse-as-library"])]),
    ]
)
