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
        /// The service over the in-memory repository, and blocking on async work, for the harnesses
        /// that drive the service's own handlers end to end.
        .target(name: "FuzzSupport",
                dependencies: [.product(name: "LearningService", package: "learning-system"),
                               .product(name: "LearningAPI", package: "learning-system"),
                               .product(name: "LearningCore", package: "learning-system"),
                               .product(name: "LearningInMemoryRepository", package: "learning-system")]),
        .executableTarget(name: "FuzzRESTBodies",
                          dependencies: ["CFuzzerDriver", "FuzzSupport",
                                         .product(name: "LearningREST", package: "learning-system"),
                                         .product(name: "LearningService", package: "learning-system"),
                                         .product(name: "H2Transport", package: "learning-system")],
                          swiftSettings: [.unsafeFlags(["-parse-as-library"])]),
        .executableTarget(name: "FuzzRPCMethods",
                          dependencies: ["CFuzzerDriver", "FuzzSupport",
                                         .product(name: "LearningRPC", package: "learning-system"),
                                         .product(name: "LearningCore", package: "learning-system"),
                                         .product(name: "LearningService", package: "learning-system"),
                                         .product(name: "H2Transport", package: "learning-system"),
                                         .product(name: "GRPCWire", package: "learning-system"),
                                         .product(name: "ProtobufCSupport", package: "learning-system")],
                          swiftSettings: [.unsafeFlags(["-parse-as-library"])]),
        .executableTarget(name: "FuzzOTLPDecoder",
                          dependencies: ["CFuzzerDriver", .product(name: "OTLPWire", package: "learning-system")],
                          swiftSettings: [.unsafeFlags(["-parse-as-library"])]),
    ]
)
