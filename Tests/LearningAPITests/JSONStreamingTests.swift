import LearningAPI
import Testing

@Suite struct JSONStreamingTests {
    /// Parses `text` streaming `key`: the elements handed over, the returned value, the count.
    func stream(_ text: String, _ key: String = "executions") throws(JSONParseError) -> ([JSONValue], JSONValue, Int?) {
        var elements: [JSONValue] = []
        let bytes = Array(text.utf8)
        let parsed = try JSONValue.parse(bytes, streaming: key) { element, index, range in
            #expect(index == elements.count, "indices in order")
            #expect((try? JSONValue.parse(Array(bytes[range]))) == element, "the range holds the element's text")
            elements.append(element)
        }
        return (elements, parsed.value, parsed.streamed)
    }

    @Test func theTopLevelArrayMemberIsHandedOverElementByElementAndNotKept() throws {
        let text = #"{"before": [1, {"executions": [9]}], "executions": [{"a": 1}, "x", [2, 3], null], "after": true}"#
        let (elements, value, streamed) = try stream(text)
        #expect(elements == [.object([("a", .number("1"))]), .string("x"), .array([.number("2"), .number("3")]), .null])
        #expect(streamed == 4)
        // The rest of the tree is as `parse` builds it, with an empty array in the streamed place;
        // the nested "executions" (not at the top level) is kept as it is.
        var expected = try JSONValue.parse(text)
        if case .object(var members) = expected {
            members[1].1 = .array([])
            expected = .object(members)
        }
        #expect(value == expected)
    }

    @Test func nothingIsStreamedUnlessTheMemberIsATopLevelArray() throws {
        for text in [#"{"executions": {"a": [1]}}"#, #"{"executions": null}"#, #"{"other": [1]}"#, #"[{"executions": [1]}]"#,
                     #""executions""#, #"{"x": {"executions": [1, 2]}}"#] {
            let (elements, value, streamed) = try stream(text)
            #expect(elements.isEmpty, "\(text)")
            #expect(streamed == nil, "\(text)")
            #expect(value == (try JSONValue.parse(text)), "\(text)")
        }
        let (_, _, empty) = try stream(#"{"executions": []}"#)
        #expect(empty == 0)
    }

    @Test func syntaxErrorsAreThrownAsByParseWhereverTheyAre() {
        for text in [#"{"executions": [{"a": 1}, {"a": 2}, ]}"#, #"{"executions": [1, 2"#, #"{"executions": [1] "#,
                     #"{"executions": [1], "executions": [2]}"#, #"{"executions": [1 2]}"#, #"{"executions": [1]} x"#,
                     #"{"executions": [{"a": 1, "a": 2}]}"#] {
            let expected: JSONParseError?
            do { _ = try JSONValue.parse(text); expected = nil } catch { expected = error }
            #expect(expected != nil, "\(text) is malformed")
            #expect(throws: expected!, "\(text)") { _ = try stream(text) }
        }
        // Nesting is counted as by `parse`: the streamed array is a level like any other.
        let deep = #"{"executions": ["# + String(repeating: "[", count: 62) + String(repeating: "]", count: 62) + "]}"
        #expect((try? JSONValue.parse(deep)) != nil)
        #expect((try? stream(deep)) != nil)
        let tooDeep = #"{"executions": ["# + String(repeating: "[", count: 63) + String(repeating: "]", count: 63) + "]}"
        #expect((try? JSONValue.parse(tooDeep)) == nil)
        #expect((try? stream(tooDeep)) == nil)
    }

    @Test func theCountHintCountsTheArraysOwnElements() {
        let hint = { (text: String) in JSONValue.arrayCountHint("executions", in: Array(text.utf8)) }
        #expect(hint(#"{"executions": [{"a": "x,]}[\"", "b": [1, 2, {"c": ","}]}, "s,]", 3, [4, 5], null]}"#) == 5)
        #expect(hint(#"  {"other": {"executions": [1, 2, 3]}, "list": ["a", "b"], "executions": [ ] }"#) == 0)
        #expect(hint("\u{FEFF}{\"executions\": [1]}") == 1)
        #expect(hint(#"{"n": -1.5e3, "t": true, "executions": [7, 8]}"#) == 2)
        #expect(hint(#"{"executions": {"a": 1}}"#) == nil, "not an array")
        #expect(hint(#"{"other": [1]}"#) == nil, "absent")
        #expect(hint(#"[{"executions": [1]}]"#) == nil, "not an object")
        #expect(hint(#"{"executions": [1, 2"#) == nil, "unterminated")
        #expect(hint(#"{"executions": ["1, 2]}"#) == nil, "unterminated string")
        #expect(hint(#"{"execution\u0073": [1]}"#) == nil, "an escaped key is not matched (a hint may miss)")
    }
}
