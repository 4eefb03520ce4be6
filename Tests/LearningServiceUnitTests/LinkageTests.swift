import Foundation
import Testing

// The service sees storage only through LearningRepository: its module does not depend on
// LearningStore (Package.swift), and none of its compiled files refers to it or to libpq. This
// reads the object files `swift build --build-tests` left next to the tests (one per source file
// in a debug build), so an `import LearningStore` that compiles only because the module happens to
// be built (SwiftPM puts every module in one search path) fails here, not only in review.

/// The object file of each Swift source of the LearningService module, by source path.
private func serviceObjects() throws -> [(source: String, object: URL)] {
    let build = try #require(Bundle.main.executableURL?.resolvingSymlinksInPath().deletingLastPathComponent())
        .appendingPathComponent("LearningService.build")
    let sources = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("Sources/LearningService")
    let files = try #require(FileManager.default.enumerator(atPath: sources.path)).compactMap { $0 as? String }
        .filter { $0.hasSuffix(".swift") }
    return files.map { ($0, build.appendingPathComponent(URL(fileURLWithPath: $0).lastPathComponent + ".o")) }
}

@Test func theServiceLinksNoStorageDriver() throws {
    let objects = try serviceObjects()
    #expect(objects.count >= 20, "the service's sources were found")
    for (source, object) in objects {
        let data = try #require(try? Data(contentsOf: object), "\(source) is not compiled at \(object.path): run `swift build --build-tests`")
        func contains(_ text: String) -> Bool { data.range(of: Data(text.utf8)) != nil }
        // Swift symbols carry their module's name with its length (`$s13LearningStore...`).
        #expect(!contains("13LearningStore"), "\(source) refers to LearningStore")
        #expect(!contains("PQconnectdb") && !contains("PQexec"), "\(source) calls libpq")
    }
    // The check sees module references at all: the service's files name their own module.
    let handlers = try #require(objects.first { $0.source.hasSuffix("LearningService.swift") })
    #expect(try Data(contentsOf: handlers.object).range(of: Data("15LearningService".utf8)) != nil)
}

@Test func theServerLinksTheStoreButNotTheInMemoryRepository() throws {
    let directory = try #require(Bundle.main.executableURL?.resolvingSymlinksInPath().deletingLastPathComponent())
    let path = directory.appendingPathComponent("learning-server").path
    let binary = try #require(try? Data(contentsOf: URL(fileURLWithPath: path)), "learning-server is not built at \(path)")
    func contains(_ text: String) -> Bool { binary.range(of: Data(text.utf8)) != nil }
    #expect(contains("13LearningStore"), "the server wires the PostgreSQL repository")
    #expect(!contains("26LearningInMemoryRepository"), "the in-memory repository is for tests only")
}
