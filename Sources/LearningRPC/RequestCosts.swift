// What the requests of the methods whose decode amplifies cost once decoded, declared to the
// transport (`Router.chargeDecoded`) so that its memory budget holds that, not the request's size,
// while the handler runs (issue 19; docs/TRANSPORT.md "Holding under abuse"). Each estimate is a
// walk over the wire's keys and lengths (`ProtoWireFields.forEachField`) that decodes nothing, run
// on the event loop before the handler starts; the sizes are LearningAPI's `DecodedSize`.
public import H2Transport
import LearningAPI
import LearningCore
import LearningProtoC
import LearningService
import ProtobufCSupport

extension LearningRPC {
    /// The most elements one repeated field may hold (the wire check's bound): a request claiming
    /// more is refused by its handler before anything is decoded, so it is charged its size only.
    static let maxElementsPerField = ProtoWireLimits().maxElementsPerField

    /// The declared costs, by method name.
    static func requestCosts() -> [(String, RequestCost)] {
        [
            ("LogExecutions", RequestCost { executionBatchCost($0) }),
            // The chunk being filled and the 4 chunks being stored (`streamExecutions`).
            ("StreamExecutions", RequestCost(messagesHeld: 5 * streamChunkSize) { executionCost($0) }),
            // The records in flight and the one waiting for a place (`ingestExecutions`).
            ("IngestExecutions", RequestCost(messagesHeld: ingestWindow + 1) { executionCost($0) }),
            ("GetErrorSignatures", RequestCost { errorSignaturesCost($0) }),
            ("RegisterAgent", RequestCost { registrationCost($0) }),
            ("SubmitMetrics", RequestCost { metricsCost($0) }),
        ]
    }

    /// What `LogExecutions` holds for a `LogExecutionsRequest` once decoded (`executionBatch`):
    /// the request itself, where each execution lies (4 bytes each, allocated at once), and what
    /// the service holds as it reads and stores them (`DecodedExecutionsCost`: the records with
    /// their strings and resource maps, the answers, one execution's protobuf-c tree). A request
    /// that is not well formed, or holds more executions than the wire check allows, is refused
    /// before its decode: its size.
    public static func executionBatchCost(_ bytes: [UInt8]) -> Int {
        var cost = DecodedExecutionsCost()
        let wellFormed = bytes.withUnsafeBufferPointer { buffer in
            var valid = true
            let walked = ProtoWireFields.forEachField(in: buffer, 0..<buffer.count) { field in
                guard field.number == 1 else { return true }
                guard field.wireType == 2, cost.executions < maxElementsPerField,
                      addExecution(buffer, field.value, to: &cost) else {
                    valid = false
                    return false
                }
                return true
            }
            return walked && valid
        }
        guard wellFormed else { return bytes.count }
        return bytes.count + DecodedSize.array(count: cost.executions, of: UInt32.self) + cost.decodedBytes
    }

    /// What a streaming ingest handler holds for one `learning.v1.Execution` message once decoded:
    /// the execution in the chunk it collects, its record once the service reads the chunk, their
    /// strings and resource map, and its answers (the message's bytes are dropped once it is decoded).
    public static func executionCost(_ bytes: [UInt8]) -> Int {
        var cost = DecodedExecutionsCost()
        let wellFormed = bytes.withUnsafeBufferPointer { addExecution($0, 0..<$0.count, to: &cost) }
        guard wellFormed else { return bytes.count }
        return MemoryLayout<ExecutionInput>.stride + DecodedExecutionsCost.executionBytes + cost.heapBytes
            + 2 * MemoryLayout<LogExecutionResult>.stride + cost.elementWorkingBytes
    }

    /// Counts one encoded `Execution` in `buffer[range]`: its record's strings (agent_name, the
    /// task id's UUID and `task_ref`, task_type, error_message, event_id), its resource map (`resource_usage.other`), and what
    /// protobuf-c's unpacked tree of it holds while it is converted (its message structs, from
    /// their C layouts, and a NUL-terminated copy of each string).
    static func addExecution(_ buffer: UnsafeBufferPointer<UInt8>, _ range: Range<Int>,
                             to cost: inout DecodedExecutionsCost) -> Bool {
        cost.addExecution()
        var unpacked = DecodedSize.allocation(MemoryLayout<Learning__V1__Execution>.stride)
        let wellFormed = ProtoWireFields.forEachField(in: buffer, range) { field in
            guard field.wireType == 2 else { return true }
            switch field.number {
            case 2:
                cost.addTaskID(utf8Count: field.value.count,
                               isCanonicalUUID: parseCanonicalUUID(utf8: UnsafeBufferPointer(rebasing: buffer[field.value])) != nil)
                unpacked += DecodedSize.allocation(field.value.count + 1)
            case 1, 3, 6, 9:
                cost.addString(utf8Count: field.value.count)
                unpacked += DecodedSize.allocation(field.value.count + 1)
            case 7:
                unpacked += addResources(buffer, field.value, to: &cost)
            case 8:
                unpacked += DecodedSize.allocation(MemoryLayout<Google__Protobuf__Timestamp>.stride)
            default:
                break
            }
            return true
        }
        cost.addElementWorkingBytes(unpacked)
        return wellFormed
    }

    /// Counts a `ResourceUsage` in `buffer[range]`: its map entries (field 4) and their names.
    /// Returns what protobuf-c's unpacked tree of it holds.
    @discardableResult
    static func addResources(_ buffer: UnsafeBufferPointer<UInt8>, _ range: Range<Int>,
                             to cost: inout DecodedExecutionsCost) -> Int {
        var entries = 0
        var unpacked = DecodedSize.allocation(MemoryLayout<Learning__V1__ResourceUsage>.stride)
        _ = ProtoWireFields.forEachField(in: buffer, range) { field in
            guard field.number == 4, field.wireType == 2 else { return true }
            entries += 1
            unpacked += DecodedSize.allocation(MemoryLayout<Learning__V1__ResourceUsage__OtherEntry>.stride)
            _ = ProtoWireFields.forEachField(in: buffer, field.value) { part in
                if part.number == 1, part.wireType == 2 {
                    cost.addString(utf8Count: part.value.count)
                    unpacked += DecodedSize.allocation(part.value.count + 1)
                }
                return true
            }
            return true
        }
        if entries > 0 { unpacked += DecodedSize.allocation(entries * MemoryLayout<UnsafeRawPointer>.stride) }
        cost.addResources(count: entries)
        return unpacked
    }

    /// What `GetErrorSignatures` holds for its request: the request, protobuf-c's tree of it (a
    /// pointer and a NUL-terminated copy per message), the decoded `[String]`, and the answer's
    /// signatures (one per message, counted as long as the message: an upper bound).
    public static func errorSignaturesCost(_ bytes: [UInt8]) -> Int {
        var messages = 0
        var protobufC = 0
        var strings = 0
        let wellFormed = bytes.withUnsafeBufferPointer { buffer in
            ProtoWireFields.forEachField(in: buffer, 0..<buffer.count) { field in
                guard field.number == 1, field.wireType == 2 else { return true }
                messages += 1
                protobufC += DecodedSize.allocation(field.value.count + 1)
                strings += DecodedSize.string(utf8Count: field.value.count)
                return messages <= maxElementsPerField
            }
        }
        guard wellFormed, messages <= maxElementsPerField else { return bytes.count }
        let array = DecodedSize.array(count: messages, of: String.self)
        return bytes.count + DecodedSize.allocation(messages * MemoryLayout<UnsafeRawPointer>.stride) + protobufC
            + 2 * (array + strings)
    }

    /// What `RegisterAgent` holds for its request: the request, protobuf-c's tree of its tools
    /// and metadata entries, and their decoded `[String]` and `[String: String]`.
    public static func registrationCost(_ bytes: [UInt8]) -> Int {
        var tools = 0
        var entries = 0
        var heap = 0
        let wellFormed = bytes.withUnsafeBufferPointer { buffer in
            ProtoWireFields.forEachField(in: buffer, 0..<buffer.count) { field in
                guard field.wireType == 2 else { return true }
                switch field.number {
                case 3:
                    tools += 1
                    heap += DecodedSize.allocation(field.value.count + 1) + DecodedSize.string(utf8Count: field.value.count)
                case 5:
                    entries += 1
                    // protobuf-c's entry message and its key and value, then the Swift strings.
                    heap += DecodedSize.allocation(4 * MemoryLayout<UnsafeRawPointer>.stride)
                    _ = ProtoWireFields.forEachField(in: buffer, field.value) { part in
                        if part.wireType == 2 {
                            heap += DecodedSize.allocation(part.value.count + 1) + DecodedSize.string(utf8Count: part.value.count)
                        }
                        return true
                    }
                default:
                    break
                }
                return tools <= maxElementsPerField && entries <= maxElementsPerField
            }
        }
        guard wellFormed, tools <= maxElementsPerField, entries <= maxElementsPerField else { return bytes.count }
        return bytes.count + heap + DecodedSize.allocation((tools + entries) * MemoryLayout<UnsafeRawPointer>.stride)
            + DecodedSize.array(count: tools, of: String.self)
            + DecodedSize.dictionary(count: entries, of: String.self, String.self)
    }

    /// What `SubmitMetrics` holds for its request: the request and the resource map of its
    /// sample (`metrics.resource_usage.other`), twice (protobuf-c's entries, then the dictionary).
    public static func metricsCost(_ bytes: [UInt8]) -> Int {
        var cost = DecodedExecutionsCost()
        var unpacked = 0
        let wellFormed = bytes.withUnsafeBufferPointer { buffer in
            ProtoWireFields.forEachField(in: buffer, 0..<buffer.count) { field in
                guard field.number == 3, field.wireType == 2 else { return true }
                return ProtoWireFields.forEachField(in: buffer, field.value) { sample in
                    if sample.number == 3, sample.wireType == 2 { unpacked += addResources(buffer, sample.value, to: &cost) }
                    return true
                }
            }
        }
        guard wellFormed else { return bytes.count }
        return bytes.count + cost.heapBytes + unpacked
    }
}
