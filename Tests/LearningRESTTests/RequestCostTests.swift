import Foundation
import H2Transport
import LearningAPI
@testable import LearningREST
import Testing

// What the transport's memory budget charges a REST request once decoded (`makeRESTCost`; issue
// 19): a batch its body and the decoded executions, any other JSON body its JSONValue tree.

private func post(_ path: String, _ body: String, contentType: String? = "application/json") -> HTTPRequest {
    HTTPRequest(method: "POST", path: path, query: "", headers: contentType.map { [Metadata("content-type", $0)] } ?? [],
                body: Array(body.utf8), peer: "test")
}

/// The cost model applied to decoded executions (what the scan should count at least).
private func modelCost(of inputs: [ExecutionInput]) -> Int {
    var heap = 0
    for input in inputs {
        for text in [input.agentName, input.taskID, input.taskType, input.errorMessage, input.eventID] {
            heap += DecodedSize.string(utf8Count: text?.utf8.count ?? 0)
        }
        for key in input.resourceUsage.other.keys { heap += DecodedSize.string(utf8Count: key.utf8.count) }
        heap += DecodedSize.dictionary(count: input.resourceUsage.other.count, of: String.self, Double.self)
    }
    return DecodedSize.array(count: inputs.count, of: ExecutionInput.self) + heap
}

@Suite struct RESTRequestCostTests {
    private func batch(_ element: (Int) -> String, count: Int) -> HTTPRequest {
        post("/executions/batch", "{\"executions\":[" + (0..<count).map(element).joined(separator: ",") + "]}")
    }

    @Test func aBatchIsChargedItsBodyAndItsDecodedExecutions() throws {
        let request = batch({ _ in #"{"agent_name":"a","success":true}"# }, count: 10_000)
        let decoded = try RESTDecoding.executionBatch(request)
        let cost = RESTCost.estimate(request)
        let scan = JSONCostScan.scan(request.body, executionBatch: true)
        #expect(scan.executions.executions == 10_000)
        #expect(scan.executions.decodedBytes - scan.executions.elementWorkingBytes == modelCost(of: decoded))
        // One element's tree beside them: its members (grown to 2 places) and its key set.
        let element = DecodedSize.grownArray(count: 2, of: (String, JSONValue).self) + DecodedSize.set(count: 2, of: String.self)
        #expect(scan.executions.elementWorkingBytes == element)
        // And the top-level object's key set, and the element's path "executions[9999]".
        let parser = DecodedSize.set(count: 1, of: String.self) + DecodedSize.string(utf8Count: 16)
        #expect(cost == request.body.count + modelCost(of: decoded) + element + parser)
        #expect(cost > request.body.count + 10_000 * MemoryLayout<ExecutionInput>.stride)
    }

    @Test func theScanCountsAtLeastWhatTheExecutionsDecodeInto() throws {
        let shapes: [(Int) -> String] = [
            { #"{"agent_name":"director","task_id":"120f4156-2bf0-4841-9994-cd8c5d83e6cf","task_type":"strategic_planning","execution_time":42.5,"success":true,"resource_usage":{"cpu":35.2,"memory_mb":512,"tokens":1200},"timestamp":"2025-01-25T10:29:41Z","event_id":"evt-\#($0)"}"# },
            { _ in #"{"agent_name":"a","success":true,"resource_usage":{"a":0,"b":0,"c":0,"d":0,"e":0,"f":0,"g":0,"h":0}}"# },
            { #"{"agent_name":"an agent with a long name \u00e9 \"quoted\"","success":false,"error_message":"failed at step \#($0) of many, many steps","resource_usage":{"a resource with a long name":1}}"# },
        ]
        for (index, shape) in shapes.enumerated() {
            let request = batch(shape, count: 100)
            let decoded = try RESTDecoding.executionBatch(request)
            let scan = JSONCostScan.scan(request.body, executionBatch: true)
            #expect(scan.executions.executions == decoded.count, "shape \(index)")
            #expect(scan.executions.decodedBytes - scan.executions.elementWorkingBytes >= modelCost(of: decoded), "shape \(index)")
            // Over by no more than the texts that decode into no string (timestamps, long numbers)
            // and the named resources counted as map entries.
            #expect(scan.executions.decodedBytes - scan.executions.elementWorkingBytes <= modelCost(of: decoded) + 100 * 256, "shape \(index)")
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
