import CProtobufC
import Foundation
import LearningAPI
import LearningProtoC
@testable import LearningRPC
import ProtobufCSupport
import Testing

// The point of issue #17.4: the schema is said once, in Protos/. These tests hold the generated Swift
// types and codecs to protoc-c's descriptors (compiled independently of scripts/generate_swift.py):
// every message of the service has its Swift type, every field its property and JSON key, and every
// value survives encode -> decode. A field added to the .proto without regenerating, or a generated
// file edited by hand, fails here (and `scripts/generate-protos.sh --check` fails too).

/// The messages of learning.v1 the service exposes, by full name, from protoc-c's descriptors.
private let schemaMessages = ProtoServiceSchema.learningSystem.messages.filter { $0.key.hasPrefix("learning.v1.") }

/// The random-value function of a message's generated Swift type (Generated/Arbitrary.swift).
private func arbitraryType(_ name: String) -> (any ArbitraryMessage.Type)? {
    protoMessageTypes[name] as? any ArbitraryMessage.Type
}

/// Proto fields that are not Swift properties, with the `[swift: derived=...]` annotation that says so.
private let derivedFields: [String: Set<String>] = ["learning.v1.ModelStatus": ["state_name"]]
/// Messages whose Swift type is not Codable: a oneof of messages is a Swift enum with associated values.
private let notCodable: Set<String> = ["learning.v1.InsightEvent"]

@Test func everyMessageOfTheServiceHasAGeneratedSwiftType() {
    #expect(schemaMessages.count >= 60)
    #expect(Set(protoMessageTypes.keys) == Set(schemaMessages.keys))
    for (name, type) in protoMessageTypes {
        #expect(type.protoName == name)
        #expect(arbitraryType(name) != nil, "\(name) has no random values: run scripts/generate-protos.sh")
    }
}

@Test(arguments: schemaMessages.keys.sorted())
func everyFieldIsAPropertyWithItsProtoNameAsJSONKey(_ name: String) throws {
    let schema = try #require(schemaMessages[name])
    let type = try #require(arbitraryType(name), "no generated Swift type for \(name): run scripts/generate-protos.sh")
    let expected = Set(schema.fields.map(\.name)).subtracting(derivedFields[name] ?? [])
    if notCodable.contains(name) { return }
    for seed in UInt64(1)...5 {
        let value = type.arbitrary(MessageValueGenerator(seed: seed, full: true))
        let encodable = try #require(value as? any Encodable, "\(name)'s Swift type is not Codable")
        let data = try JSONEncoder().encode(encodable)
        let object = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        // Full values set every optional: the keys are exactly the proto's field names.
        #expect(Set(object.keys) == expected, "\(name): JSON keys differ from the proto's fields")
    }
}

@Test(arguments: schemaMessages.keys.sorted())
func everyMessageRoundTripsThroughTheWire(_ name: String) throws {
    let type = try #require(arbitraryType(name))
    for seed in UInt64(1)...200 {
        try roundTrip(type, MessageValueGenerator(seed: seed, full: seed % 2 == 0), name: name, seed: seed)
    }
}

private func roundTrip<Value: ArbitraryMessage>(_ type: Value.Type, _ g: MessageValueGenerator, name: String,
                                                seed: UInt64) throws {
    let value = Value.arbitrary(g)
    let bytes = ProtoEncode.message(value)
    let decoded = try ProtoDecode.message(bytes, as: Value.self)
    #expect(decoded == value, "\(name), seed \(seed): decode(encode(value)) differs")
    // And through JSON, the REST form (Codable types only).
    if let codable = value as? any Codable & Equatable {
        #expect(try jsonRoundTrips(codable), "\(name), seed \(seed): the JSON round trip differs")
    }
}

private func jsonRoundTrips<Value: Codable & Equatable>(_ value: Value) throws -> Bool {
    try JSONDecoder().decode(Value.self, from: JSONEncoder().encode(value)) == value
}

@Test func aDerivedFieldIsEncodedFromItsExpression() throws {
    for state in ModelState.allCases {
        let bytes = ProtoEncode.message(ModelStatus(name: "performance_prediction", state: state))
        let decoded = try #require(unpackMessage(bytes, learning__v1__model_status__unpack))
        #expect(stringField(decoded.message.state_name) == state.rawValue)
        #expect(decoded.message.state == state.proto)
    }
}

@Test func badValuesAreRefusedWithTheirFieldPath() throws {
    // A timestamp past year 9999 in the fourth execution of a batch.
    let arena = ProtoArena()
    let request = arena.message(learning__v1__log_executions_request__init)
    let executions = (0..<4).map { index in
        let execution = ExecutionInput(agentName: "a\(index)", success: true).proto(in: arena)
        if index == 3 {
            let bad = arena.timestamp(Date(timeIntervalSince1970: 0))
            bad.pointee.seconds = 253_402_300_800
            execution.pointee.timestamp = bad
        }
        return Optional(execution)
    }
    request.pointee.n_executions = executions.count
    request.pointee.executions = arena.array(executions)
    #expect(throws: UndecodableRequest.self) { try ProtoDecode.message(packMessage(request), as: LogExecutionsRequest.self) }
    do {
        _ = try ProtoDecode.message(packMessage(request), as: LogExecutionsRequest.self)
    } catch let error as UndecodableRequest {
        #expect(error.detail == "executions[3].timestamp is not a valid timestamp")
    }
    // A stream message names its position, and an enum value the service does not know is refused.
    let status = arena.message(learning__v1__model_status__init)
    status.pointee.state = LEARNING__V1__MODEL_STATE__MODEL_STATE_UNSPECIFIED
    do {
        _ = try ProtoDecode.message(packMessage(status), as: ModelStatus.self, field: "message[7]")
        Issue.record("an unspecified model state was accepted")
    } catch let error as UndecodableRequest {
        #expect(error.detail == "message[7].state is not a known learning.v1.ModelState value")
    }
    // Garbage is refused by the wire check before protobuf-c sees it.
    #expect(throws: UndecodableRequest.self) { try ProtoDecode.message([0x0A, 0xFF], as: HeartbeatRequest.self) }
}
