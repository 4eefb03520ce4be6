import Foundation
import Testing
import H2Transport
import LearningAPI
@testable import LearningREST

@Test func parsesEveryJSONValueKindAndRoundTrips() throws {
    let text = #"{"a":1,"b":-2.5e3,"c":"x\"y\u00e9\ud83d\ude00","d":[true,false,null],"e":{}}"#
    let value = try JSONValue.parse(text)
    #expect(value.keys == ["a", "b", "c", "d", "e"])
    #expect(value["c"] == .string("x\"yé😀"))
    #expect(try JSONValue.parse(value.text) == value)
}

@Test func rejectsMalformedJSONWithAnOffset() {
    for bad in ["", "{", "{\"a\":}", "[1,]", "01", "1.", "-", "tru", "\"\u{01}\"", "{\"a\":1,\"a\":2}", "\"\\ud800\"",
                "\"\\x\"", "{} x", "[1 2]", "{\"a\" 1}", "NaN", "Infinity", "'a'", "\"abc"] {
        #expect(throws: JSONParseError.self, "\(bad)") { try JSONValue.parse(bad) }
    }
}

@Test func rejectsDuplicateKeysInSmallAndLargeObjects() throws {
    // Up to `keySetThreshold` members the parser compares keys one by one; past it, in a set.
    func object(_ keys: [String]) -> String { "{" + keys.map { "\"\($0)\":0" }.joined(separator: ",") + "}" }
    let many = (0..<40).map { "key-\($0)" }
    #expect((try? JSONValue.parse(object(many))) != nil)
    #expect((try? JSONValue.parse(object(Array(many.prefix(JSONValue.keySetThreshold))))) != nil)
    for duplicated in [["a", "b", "a"], Array(many.prefix(16)) + ["key-3"], Array(many.prefix(17)) + ["key-0"],
                       many + ["key-39"], many + ["key-16"], ["x"] + many + ["x"]] {
        #expect(throws: JSONParseError.self, "\(duplicated.count) keys") { try JSONValue.parse(object(duplicated)) }
    }
    // Escaped and plain spellings of one key are the same key.
    #expect(throws: JSONParseError.self) { try JSONValue.parse(#"{"ab":1,"a\u0062":2}"#) }
}

@Test func rejectsNestingDeeperThanTheLimitWithoutRecursingFurther() {
    let deep = String(repeating: "[", count: 100_000) + String(repeating: "]", count: 100_000)
    #expect(throws: JSONParseError.self) { try JSONValue.parse(deep) }
    let ok = String(repeating: "[", count: JSONValue.maximumDepth) + String(repeating: "]", count: JSONValue.maximumDepth)
    #expect((try? JSONValue.parse(ok)) != nil)
}

@Test func rejectsInvalidUTF8InStrings() {
    #expect(throws: JSONParseError.self) { try JSONValue.parse([0x22, 0xFF, 0xFE, 0x22]) }
}

@Test func encodesNonFiniteNumbersAsNullAndEscapesControlCharacters() {
    #expect(JSONValue.double(.nan).text == "null")
    #expect(JSONValue.double(.infinity).text == "null")
    #expect(JSONValue.double(3).text == "3")
    #expect(JSONValue.double(18.2).text == "18.2")
    #expect(JSONValue.rounded(2150.04, places: 1).text == "2150")
    #expect(JSONValue.string("a\n\u{0}<").text == #""a\n\u0000\u003c""#)
}

@Test func readerReportsWrongTypesAndRangesAs422NamingTheField() throws {
    let value = try JSONValue.parse(#"{"s": 5, "n": "5", "big": 1e400, "neg": -1, "i": 2.5, "b": "true", "arr": [1], "o": {"x": []}}"#)
    let reader = try JSONObjectReader(value)
    func status(_ body: () throws -> Void) -> (Int, String) {
        do { try body(); return (200, "") } catch let error as RESTError { return (error.status, error.detail) } catch let error as ServiceError {
            // The API module's reader says invalidArgument; REST answers it with 422.
            let rest = RESTError(error)
            return (rest.status, rest.detail)
        } catch { return (0, "\(error)") }
    }
    #expect(status { _ = try reader.string("s") } == (422, "s must be a string, not number"))
    #expect(status { _ = try reader.double("n") }.0 == 422)
    #expect(status { _ = try reader.double("big") }.1.contains("out of range"))
    #expect(status { _ = try reader.double("neg", minimum: 0) }.0 == 422)
    #expect(status { _ = try reader.int("i") }.0 == 422)
    #expect(status { _ = try reader.bool("b") }.0 == 422)
    #expect(status { _ = try reader.strings("arr") }.1 == "arr[0] must be a string, not number")
    #expect(status { _ = try reader.object("o")?.strings("x") }.0 == 200)
    #expect(status { _ = try reader.requiredString("missing") }.1 == "missing is required")
    #expect(status { _ = try JSONObjectReader(.array([])) }.0 == 422)
}

@Test func parsesAndFormatsTheGuidesTimestamps() throws {
    let date = try #require(parseISO8601("2025-01-25T10:30:00Z"))
    #expect(formatISO8601(date) == "2025-01-25T10:30:00Z")
    #expect(parseISO8601("2025-01-06T00:00:02.933Z")?.timeIntervalSince1970 == 1_736_121_602.933)
    #expect(parseISO8601("2025-01-25T12:30:00+02:00") == date)
    #expect(parseISO8601("2025-01-25 10:30:00") == date)
    #expect(formatISO8601(Date(timeIntervalSince1970: 951_782_400)) == "2000-02-29T00:00:00Z")
    for bad in ["2025-02-30T00:00:00Z", "2025-01-25T25:00:00Z", "2025-01-25", "x", "2025-01-25T10:30:00Q", "2025-01-25T10:30:00.Z"] {
        #expect(parseISO8601(bad) == nil, "\(bad)")
    }
}

@Test func queryParametersDecodeStrictly() throws {
    let query = try QueryParameters("task_type=code%20review&limit=5&kinds=a,b&kinds=c&speed_weight=0.5&x=a+b")
    #expect(query["task_type"] == "code review")
    #expect(query["x"] == "a b")
    #expect(query.list("kinds") == ["a", "b", "c"])
    #expect(try query.int32("limit") == 5)
    #expect(try query.double("speed_weight") == 0.5)
    #expect(throws: RESTError.badRequest("malformed percent-encoding in the query string near \"a=%zz\"")) {
        try QueryParameters("a=%zz")
    }
    let numbers = try QueryParameters("limit=abc&w=nan&v=inf&h=0x10&big=99999999999999999999&wide=3000000000&neg=-3&e=1e400")
    #expect((try? numbers.int32("limit")) == nil)
    for name in ["w", "v", "h", "e"] {
        do { _ = try numbers.double(name); Issue.record("accepted \(name)") } catch { #expect(error.status == 400) }
    }
    do { _ = try numbers.int32("big"); Issue.record("accepted big") } catch { #expect(error.status == 400) }
    do { _ = try numbers.int32("wide"); Issue.record("accepted wide") } catch { #expect(error.status == 422) }
    // A value's meaning (a negative limit) is the service's to judge, with gRPC's words.
    #expect(try numbers.int32("neg") == -3)
}

@Test func contentTypeMustBeJSONWhenABodyIsSent() {
    func check(_ contentType: String?, _ body: String) -> Int {
        let headers = contentType.map { [Metadata("content-type", $0)] } ?? []
        let request = HTTPRequest(method: "POST", path: "/x", query: "", headers: headers, body: Array(body.utf8), peer: "")
        do { _ = try requireJSONBody(request); return 200 } catch { return error.status }
    }
    #expect(check("application/json", "{}") == 200)
    #expect(check("application/json; charset=utf-8", "{}") == 200)
    #expect(check("application/merge-patch+json", "{}") == 200)
    #expect(check("text/plain", "{}") == 415)
    #expect(check(nil, "{}") == 415)
    #expect(check("application/x-www-form-urlencoded", "a=b") == 415)
    #expect(check("application/json", "") == 400)
    #expect(check("application/json", "{") == 400)
}

@Test func serviceErrorsMapToTheDocumentedHTTPStatuses() {
    // docs/API.md "Errors": the HTTP side of ServiceError lives in the REST layer only.
    let cases: [(ServiceError, Int, String)] = [
        (.invalidArgument("x"), 422, "invalid_argument"), (.notFound("x"), 404, "not_found"),
        (.alreadyExists("x"), 409, "already_exists"), (.unauthenticated("x"), 401, "unauthenticated"),
        (.permissionDenied("x"), 403, "permission_denied"), (.overloaded(retryAfter: 2.5, detail: "x"), 429, "overloaded"),
        (.unavailable("x"), 503, "unavailable"), (.failedPrecondition("x"), 409, "failed_precondition"),
        (.internal("x"), 500, "internal"),
    ]
    for (error, status, code) in cases {
        let rest = RESTError(error)
        #expect(rest.status == status, "\(error)")
        #expect(rest.error == code, "\(error)")
        #expect(rest.detail == error.detail, "\(error)")
    }
    #expect(RESTError(.overloaded(retryAfter: 2.5, detail: "x")).headers.contains(Metadata("retry-after", "3")))
    #expect(RESTError(.unauthenticated("x")).headers.contains { $0.name == "www-authenticate" })
}
