import Testing
import ProtobufCSupport

/// The schema read from protoc-c's descriptors is Protos/ as written: types, repetition, presence.
@Test func theLearningSystemSchemaIsReadFromTheGeneratedDescriptors() throws {
    let service = ProtoServiceSchema.learningSystem
    let health = try #require(service.methods["GetHealth"])
    #expect(health.input == "learning.v1.GetHealthRequest" && health.output == "learning.v1.GetHealthResponse")
    #expect(service.methods.count >= 20)

    let agent = try #require(service.messages["learning.v1.Agent"])
    #expect(agent.shortName == "Agent")
    #expect(agent.fields.map(\.number) == agent.fields.map(\.number).sorted())
    #expect(agent.field("tools") == ProtoField(name: "tools", number: 3, type: .string, isRepeated: true, hasPresence: false))
    #expect(agent.field("last_seen")?.type == .timestamp && agent.field("last_seen")?.hasPresence == true)
    #expect(agent.field("metadata")?.type == .map(value: .string) && agent.field("metadata")?.isRepeated == false)

    let model = try #require(service.messages["learning.v1.ModelStatus"])
    #expect(model.field("accuracy") == ProtoField(name: "accuracy", number: 4, type: .number, isRepeated: false, hasPresence: true),
            "a oneof member may be absent")
    guard case .enumeration(let name, let values)? = model.field("state")?.type else {
        Issue.record("state is not an enum: \(String(describing: model.field("state")))")
        return
    }
    #expect(name == "learning.v1.ModelState" && values.contains("MODEL_STATE_INSUFFICIENT_DATA"))

    let list = try #require(service.messages["learning.v1.ListAgentsResponse"])
    #expect(list.field("agents")?.type == .message("learning.v1.Agent") && list.field("agents")?.isRepeated == true)
    #expect(list.field("total")?.type == .integer(bits: 32))
    let execution = try #require(service.messages["learning.v1.Execution"])
    #expect(execution.field("resource_usage")?.hasPresence == true)
    #expect(execution.field("event_id")?.type == .string)
    #expect(service.messages["google.protobuf.Timestamp"] == nil, "timestamps are a field type, not a message")
}
