import CProtobufC
import LearningProtoC
import ProtobufCSupport
import Testing

@Test func builtMessageRoundTripsThroughPackAndUnpack() throws {
    let arena = ProtoArena()
    let execution = arena.message(learning__v1__execution__init)
    execution.pointee.agent_name = arena.string("director")
    execution.pointee.task_type = arena.string("strategic_planning")
    execution.pointee.has_execution_time_case = LEARNING__V1__EXECUTION__HAS_EXECUTION_TIME_EXECUTION_TIME
    execution.pointee.execution_time = 12.5
    execution.pointee.success = 1
    let usage = arena.message(learning__v1__resource_usage__init)
    usage.pointee.has_cpu_case = LEARNING__V1__RESOURCE_USAGE__HAS_CPU_CPU
    usage.pointee.cpu = 42
    execution.pointee.resource_usage = usage
    let bytes = packMessage(execution)
    #expect(!bytes.isEmpty)

    let decoded = try #require(unpackMessage(bytes, learning__v1__execution__unpack))
    #expect(stringField(decoded.message.agent_name) == "director")
    #expect(stringField(decoded.message.task_type) == "strategic_planning")
    #expect(decoded.message.has_execution_time_case == LEARNING__V1__EXECUTION__HAS_EXECUTION_TIME_EXECUTION_TIME)
    #expect(decoded.message.execution_time == 12.5)
    #expect(decoded.message.success != 0)
    #expect(decoded.message.resource_usage.pointee.cpu == 42)
    #expect(decoded.message.resource_usage.pointee.has_memory_mb_case == LEARNING__V1__RESOURCE_USAGE__HAS_MEMORY_MB__NOT_SET)
}

@Test func repeatedStringsRoundTrip() throws {
    let arena = ProtoArena()
    let request = arena.message(learning__v1__register_agent_request__init)
    request.pointee.name = arena.string("coder-01")
    let tools = ["Read", "Write", "Bash", "ünïcode"]
    request.pointee.tools = arena.strings(tools)
    request.pointee.n_tools = tools.count
    let decoded = try #require(unpackMessage(packMessage(request), learning__v1__register_agent_request__unpack))
    #expect(repeatedStrings(decoded.message.n_tools, decoded.message.tools) == tools)
}

@Test func malformedBytesAreRejectedNotCrashed() {
    // A length-delimited field (agent_name, tag 1) that claims 100 bytes but carries 2.
    #expect(unpackMessage([0x0A, 100, 0x41, 0x42], learning__v1__execution__unpack) == nil)
    // An invalid wire type (7).
    #expect(unpackMessage([0x0F], learning__v1__execution__unpack) == nil)
    // A truncated varint.
    #expect(unpackMessage([0x28, 0xFF], learning__v1__execution__unpack) == nil)
}

@Test func emptyBytesDecodeToTheDefaultMessage() throws {
    let decoded = try #require(unpackMessage([], learning__v1__get_health_request__unpack))
    _ = decoded.message
    let arena = ProtoArena()
    #expect(packMessage(arena.message(learning__v1__get_health_request__init)).isEmpty)
}

@Test func descriptorSetIsEmbedded() {
    #expect(learning_descriptor_set_length() > 1000)
    // A FileDescriptorSet starts with field 1, wire type 2.
    #expect(learning_descriptor_set_bytes()[0] == 0x0A)
}
