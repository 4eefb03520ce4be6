import Foundation
import Testing
import H2Transport
import LearningAPI
@testable import LearningREST

@Test func everyCatalogueEndpointRoutesToItsOperation() throws {
    let router = RESTRouter()
    for endpoint in EndpointCatalogue.all {
        let path = endpoint.path.replacingOccurrences(of: "{name}", with: "director")
        let match = try router.match(method: endpoint.method, path: path)
        #expect(match.route == endpoint.id, "\(endpoint.method) \(endpoint.path)")
        if endpoint.path.contains("{name}") { #expect(match.parameters["name"] == "director") }
    }
    #expect(Set(EndpointCatalogue.all.map(\.id)) == Set(RouteID.allCases))
}

@Test func theGuidesPathsAreAllRouted() throws {
    let router = RESTRouter()
    let guide = [("GET", "/health"), ("GET", "/status"), ("GET", "/api/docs"), ("GET", "/agents/list"),
                 ("GET", "/agents/director/status"), ("GET", "/agents/director/performance"), ("POST", "/agents/register"),
                 ("GET", "/analytics/performance"), ("GET", "/analytics/coordination"), ("GET", "/analytics/insights"),
                 ("GET", "/metrics"), ("GET", "/ml/test/patterns"), ("POST", "/ml/test/prediction")]
    for (method, path) in guide { _ = try router.match(method: method, path: path) }
}

@Test func unknownPathIs404AndWrongMethodIs405WithAllow() {
    let router = RESTRouter()
    #expect(throws: RESTError.self) { try router.match(method: "GET", path: "/nope") }
    do {
        _ = try router.match(method: "DELETE", path: "/agents/register")
        Issue.record("matched")
    } catch {
        #expect(error.status == 405)
        #expect(error.headers.first("allow") == "POST")
    }
    do {
        _ = try router.match(method: "POST", path: "/health")
        Issue.record("matched")
    } catch {
        #expect(error.status == 405)
        #expect(error.headers.first("allow") == "GET, HEAD")
    }
    // HEAD is GET without the body.
    #expect((try? router.match(method: "HEAD", path: "/agents/x/status"))?.route == .agentStatus)
    do { _ = try router.match(method: "GET", path: "/agents/a/b/c/d"); Issue.record("matched") } catch { #expect(error.status == 404) }
}

@Test func pathParametersArePercentDecodedAndBadEscapesAre400() throws {
    let router = RESTRouter()
    #expect(try router.match(method: "GET", path: "/agents/code%2Dreviewer/status").parameters["name"] == "code-reviewer")
    do { _ = try router.match(method: "GET", path: "/agents/%zz/status"); Issue.record("matched") } catch { #expect(error.status == 400) }
    do { _ = try router.match(method: "GET", path: "/agents/%ff/status"); Issue.record("matched") } catch { #expect(error.status == 400) }
}

@Test func openAPIDocumentListsEveryEndpointWithItsMethod() throws {
    let document = APIDocumentation.openAPIDocument()
    #expect(document["openapi"] == .string("3.0.3"))
    let paths = try #require(document["paths"])
    for endpoint in EndpointCatalogue.all {
        let operation = paths[endpoint.path]?[endpoint.method.lowercased()]
        #expect(operation != nil, "\(endpoint.method) \(endpoint.path)")
        #expect(operation?["operationId"] == .string(endpoint.id.rawValue))
    }
    // Error responses reference the shared error schema.
    #expect(paths["/agents/register"]?["post"]?["responses"]?["422"]?["content"]?["application/json"]?["schema"]?["$ref"]
            == .string("#/components/schemas/Error"))
    #expect(paths["/agents/register"]?["post"]?["security"] != nil)
}

@Test func docsPageIsSelfContainedAndListsEveryEndpoint() {
    let page = APIDocumentation.htmlPage()
    #expect(page.hasPrefix("<!DOCTYPE html>"))
    for endpoint in EndpointCatalogue.all {
        #expect(page.contains(">\(endpoint.method)</span> <code>\(endpoint.path)</code>"), "\(endpoint.path)")
    }
    // No external assets: no scripts, stylesheets, images or fonts fetched from anywhere.
    for forbidden in ["<script", "<link", "<img", "@import", "url(", "src=", "http://", "https://"] {
        #expect(!page.contains(forbidden), "\(forbidden)")
    }
}



/// Every service error answers with a code of the one table, at that code's status.
@Test func everyServiceErrorIsACodeOfTheTable() throws {
    let errors: [ServiceError] = [
        .invalidArgument("x"), .notFound("x"), .alreadyExists("x"), .unauthenticated("x"), .permissionDenied("x"),
        .overloaded(retryAfter: 2, detail: "x"), .unavailable("x"), .failedPrecondition("x"), .internal("x"),
    ]
    for error in errors {
        let code = try #require(HTTPErrorCode(rawValue: error.code), "\(error.code) is not in HTTPErrorCode")
        #expect(RESTError(error).status == code.status, "\(error.code)")
        #expect(RESTError(error).error == code.rawValue)
    }
}

/// The transport's error answers are JSON `{"error", "detail"}`, escaped.
@Test func transportErrorBodiesAreJSON() throws {
    let response = HTTPErrorCode.requestTimeout.response("a \"quoted\"\nline\u{1}")
    #expect(response.status == 408)
    #expect(response.headers.first("content-type") == "application/json")
    let object = try #require(try JSONSerialization.jsonObject(with: Data(response.body)) as? [String: String])
    #expect(object == ["error": "request_timeout", "detail": "a \"quoted\"\nline\u{1}"])
    let codes = HTTPErrorCode.allCases
    #expect(Set(codes.map(\.rawValue)).count == codes.count)
}

/// The generated parts of docs/ (API.md's reference and error table, SERVICE.md's error table,
/// openapi.json), one test at a time: regenerating rewrites whole files, so two tests writing
/// API.md at once would lose one's change.
@Suite(.serialized) struct GeneratedDocsTests {
    /// docs/API.md's reference section and docs/openapi.json are generated from the catalogue; this
    /// test fails when they are stale (set LEARNING_REGENERATE_DOCS=1 to rewrite them).
    @Test func apiMarkdownAndOpenAPIFileAreUpToDate() throws {
        let docs = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("docs")
        let regenerate = ProcessInfo.processInfo.environment["LEARNING_REGENERATE_DOCS"] == "1"
        let markdownURL = docs.appendingPathComponent("API.md")
        let markdown = try String(contentsOf: markdownURL, encoding: .utf8)
        let begin = try #require(markdown.range(of: "<!-- BEGIN GENERATED REFERENCE"))
        let beginLineEnd = try #require(markdown.range(of: "-->\n", range: begin.upperBound..<markdown.endIndex))
        let end = try #require(markdown.range(of: "<!-- END GENERATED REFERENCE -->"))
        let current = String(markdown[beginLineEnd.upperBound..<end.lowerBound])
        let expected = APIDocumentation.markdownReference()
        let openAPIURL = docs.appendingPathComponent("openapi.json")
        let openAPI = APIDocumentation.pretty(APIDocumentation.openAPIDocument()) + "\n"
        if regenerate {
            try (String(markdown[..<beginLineEnd.upperBound]) + expected + String(markdown[end.lowerBound...]))
                .write(to: markdownURL, atomically: true, encoding: .utf8)
            try openAPI.write(to: openAPIURL, atomically: true, encoding: .utf8)
            return
        }
        #expect(current == expected, "docs/API.md is stale: run LEARNING_REGENERATE_DOCS=1 swift test --filter apiMarkdown")
        #expect((try? String(contentsOf: openAPIURL, encoding: .utf8)) == openAPI, "docs/openapi.json is stale")
    }

    /// The "Errors" tables of docs/API.md and docs/SERVICE.md are `HTTPErrorCode.markdownTable`; this
    /// test fails when either is stale (LEARNING_REGENERATE_DOCS=1 rewrites them).
    @Test func errorTablesInDocsAreUpToDate() throws {
        let docs = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("docs")
        let regenerate = ProcessInfo.processInfo.environment["LEARNING_REGENERATE_DOCS"] == "1"
        for file in ["API.md", "SERVICE.md"] {
            let url = docs.appendingPathComponent(file)
            let text = try String(contentsOf: url, encoding: .utf8)
            let begin = try #require(text.range(of: "<!-- BEGIN GENERATED ERRORS"), "\(file) has no generated errors section")
            let beginLineEnd = try #require(text.range(of: "-->\n", range: begin.upperBound..<text.endIndex))
            let end = try #require(text.range(of: "<!-- END GENERATED ERRORS -->"))
            if regenerate {
                try (String(text[..<beginLineEnd.upperBound]) + HTTPErrorCode.markdownTable + String(text[end.lowerBound...]))
                    .write(to: url, atomically: true, encoding: .utf8)
                continue
            }
            #expect(String(text[beginLineEnd.upperBound..<end.lowerBound]) == HTTPErrorCode.markdownTable,
                    "docs/\(file)'s error table is stale: run LEARNING_REGENERATE_DOCS=1 swift test --filter errorTables")
        }
    }
}
