import Foundation
import Testing

// The `learning` client links the API module and the gRPC client only: no storage (LearningStore,
// libpq), ML (LearningML) or REST (LearningREST) code, and not the service that holds them
// (Package.swift: the LearningCLI target's dependencies). This reads the built binary, so a new
// dependency that drags any of them in fails here, not only in review.

/// The `learning` executable `swift build --build-tests` put next to the tests.
private func clientBinary() throws -> Data {
    let directory = try #require(Bundle.main.executableURL?.resolvingSymlinksInPath().deletingLastPathComponent())
    let path = directory.appendingPathComponent("learning").path
    try #require(FileManager.default.isExecutableFile(atPath: path), "learning is not built at \(path): run `swift build --build-tests`")
    return try Data(contentsOf: URL(fileURLWithPath: path))
}

@Test func theClientLinksNoStorageMLOrRESTCode() throws {
    let binary = try clientBinary()
    func contains(_ text: String) -> Bool { binary.range(of: Data(text.utf8)) != nil }
    // Swift symbols carry their module's name with its length (`$s13LearningStore...`).
    #expect(contains("11LearningAPI"), "the check would see a linked module")
    for module in ["13LearningStore", "10LearningML", "12LearningREST", "15LearningService", "14LearningServer"] {
        #expect(!contains(module), "learning links \(module.drop { $0.isNumber })")
    }
    // libpq: neither the library in the dynamic section nor one of its functions.
    #expect(!contains("libpq.so"))
    #expect(!contains("PQconnectdb"))
}
