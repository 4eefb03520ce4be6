import Foundation
import H2Transport
import LearningAPI
import LearningCore
@testable import LearningREST
import Testing

// What the transport's memory budget charges a REST request once decoded (`makeRESTCost`; issue
// 19): a batch its body and the decoded executions, any other JSON body its JSONValue tree.

private func post(_ path: String, _ body: String, contentType: String? = "application/json") -> HTTPRequest {
    HTTPRequest(method: "POST", path: path, query: "", headers: contentType.map { [Metadata("content-type", $0)] } ?? [],
                body: Array(body.utf8), peer: "test")
}

/// A batch read as the service reads it: each execution decoded and validated into its record.
private func records(_ batch: ExecutionBatch) throws -> [ExecutionRecord] {
    try (0..<batch.count).map { try Validation.execution(try batch.input(at: $0), field: "executions[\($0)]") }
}

@Suite struct RESTRequestCostTests {
    private func batch(_ element: (Int) -> String, count: Int) -> HTTPRequest {
        post("/executions/batch", "{\"executions\":[" + (0..<count).map(element).joined(separator: ",") + "]}")
    }

    @Test func aBatchIsChargedItsBodyAndItsDecodedExecutions() throws {
        let element = #"{"agent_name":"a","success":true}"#
        let request = batch({ _ in element }, count: 10_000)
        let decoded = try RESTDecoding.executionBatch(request)
        let cost = RESTCost.estimate(request)
        let scan = JSONCostScan.scan(request.body, executionBatch: true)
        #expect(scan.executions.executions == 10_000)
        let held = DecodedExecutionsCost.heldBytes(of: try records(decoded))
        #expect(scan.executions.decodedBytes - scan.executions.elementWorkingBytes == held)
        // One element's tree beside them: its members (grown to 2 places; too few for a set of its
        // keys), and the copy of its text the service parses it from.
        let tree = DecodedSize.grownArray(count: 2, of: (String, JSONValue).self)
        #expect(scan.executions.elementWorkingBytes == tree + DecodedSize.array(count: element.utf8.count, of: UInt8.self))
        // And where each element lies (two offsets), and the element's path "executions[9999]".
        let bounds = DecodedSize.array(count: 20_000, of: UInt32.self)
        let parser = DecodedSize.string(utf8Count: 16)
        #expect(cost == request.body.count + bounds + held + scan.executions.elementWorkingBytes + parser)
        #expect(cost > request.body.count + 10_000 * MemoryLayout<ExecutionRecord>.stride)
    }

    @Test func theBatchKeepsWhereEachElementLiesAndDecodesItWhenRead() throws {
        let request = batch({ #"{"agent_name":"agent-\#($0)","success":\#($0 % 2 == 0)}"# }, count: 3)
        let decoded = try RESTDecoding.executionBatch(request)
        #expect(decoded.count == 3)
        #expect(try decoded.decodedInputs().map(\.agentName) == ["agent-0", "agent-1", "agent-2"])
        #expect(try decoded.input(at: 1).success == false)
        // An invalid element answers when it is read, naming its index; a syntax error anywhere
        // answers before (the whole body parses first).
        let invalid = try RESTDecoding.executionBatch(batch({ $0 == 1 ? #"{"agent_name":5}"# : #"{"agent_name":"a"}"# }, count: 2))
        #expect(throws: ServiceError.self) { try invalid.input(at: 1) }
        #expect(throws: RESTError.self) {
            try RESTDecoding.executionBatch(post("/executions/batch", #"{"executions":[{"agent_name":5},{"agent_name":"a"]}"#))
        }
    }

    @Test func theScanCountsAtLeastWhatTheExecutionsDecodeInto() throws {
        let shapes: [(Int) -> String] = [
            { #"{"agent_name":"director","task_id":"120f4156-2bf0-4841-9994-cd8c5d83e6cf","task_type":"strategic_planning","execution_time":42.5,"success":true,"resource_usage":{"cpu":35.2,"memory_mb":512,"tokens":1200},"timestamp":"2025-01-25T10:29:41Z","event_id":"evt-\#($0)"}"# },
            { _ in #"{"agent_name":"a","success":true,"resource_usage":{"a":0,"b":0,"c":0,"d":0,"e":0,"f":0,"g":0,"h":0}}"# },
            { #"{"agent_name":"an-agent-with-a-long-name","task_id":"task number \#($0) of a long run","success":false,"error_message":"failed at step \#($0) of many, many steps","resource_usage":{"a.resource-with-a-long-name":1}}"# },
        ]
        for (index, shape) in shapes.enumerated() {
            let request = batch(shape, count: 100)
            let decoded = try RESTDecoding.executionBatch(request)
            let scan = JSONCostScan.scan(request.body, executionBatch: true)
            let held = DecodedExecutionsCost.heldBytes(of: try records(decoded))
            #expect(scan.executions.executions == decoded.count, "shape \(index)")
            #expect(scan.executions.decodedBytes - scan.executions.elementWorkingBytes >= held, "shape \(index)")
            // Over by no more than the texts that decode into no string (keys, timestamps, long
            // numbers) and the named resources counted as map entries.
            #expect(scan.executions.decodedBytes - scan.executions.elementWorkingBytes <= held + 100 * 256, "shape \(index)")
        }
    }

    @Test func otherJSONBodiesAreChargedTheirTree() {
        let numbers = post("/agents/register", "[" + Array(repeating: "0", count: 10_000).joined(separator: ",") + "]")
        let cost = RESTCost.estimate(numbers)
        #expect(cost == numbers.body.count + DecodedSize.grownArray(count: 10_000, of: JSONValue.self))
        let object = post("/agents/register", #"{"name":"a","metadata":{"k":"v"}}"#)
        let scan = JSONCostScan.scan(object.body, executionBatch: false)
        #expect(scan.members == 3)
        #expect(scan.containers == 2)
        #expect(scan.arrayElements == 1) // the root
    }

    @Test func bodiesThatAreNotJSONAreChargedTheirSize() {
        let protobuf = post("/v1/traces", "\u{0A}\u{02}ab", contentType: "application/x-protobuf")
        #expect(RESTCost.estimate(protobuf) == protobuf.body.count)
        #expect(RESTCost.estimate(post("/health", "")) == 0)
        let untyped = post("/agents/register", "[0,0]", contentType: nil)
        #expect(RESTCost.estimate(untyped) > untyped.body.count) // no content type: read as JSON
    }

    @Test func aTruncatedBodyIsChargedWhatTheParserBuildsBeforeItStops() {
        let truncated = post("/agents/register", "[" + Array(repeating: "0", count: 1_000).joined(separator: ","))
        #expect(RESTCost.estimate(truncated) == truncated.body.count + DecodedSize.grownArray(count: 1_000, of: JSONValue.self))
    }
}
