import CProtobufC
import LearningProtoC
import ProtobufCSupport
import Testing

// Randomized robustness of the protobuf-c layer: random and mutated byte strings through
// `unpackMessage` of several message types must never crash, and whatever decodes must survive
// pack -> unpack -> pack unchanged. The generator is seeded, so a failure reproduces exactly.

/// SplitMix64: a small, fast, seedable generator (the runs must be reproducible, so no SystemRandom).
private struct SplitMix64: RandomNumberGenerator {
    var state: UInt64
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// The outcome of feeding one byte string to one message type.
private enum Outcome { case rejected, roundTrips, changedOnRepack }

/// Decodes `bytes`; when they decode, packs the message, decodes that and packs again: the two
/// packed forms must be identical (protobuf-c's canonical encoding is a fixed point).
private func feed<Message>(_ bytes: [UInt8], _ unpack: ProtobufCUnpackFunction<Message>) -> Outcome {
    guard let first = unpackMessage(bytes, unpack) else { return .rejected }
    let packed = packMessage(first.pointer)
    guard let second = unpackMessage(packed, unpack) else { return .changedOnRepack }
    return packMessage(second.pointer) == packed ? .roundTrips : .changedOnRepack
}

/// One message type under test: its name, a valid seed encoding and its checker.
private struct Subject {
    let name: String
    let seed: [UInt8]
    let feed: ([UInt8]) -> Outcome
}

private func timestamp(_ arena: ProtoArena, seconds: Int64, nanos: Int32) -> UnsafeMutablePointer<Google__Protobuf__Timestamp> {
    let stamp = arena.message(google__protobuf__timestamp__init)
    stamp.pointee.seconds = seconds
    stamp.pointee.nanos = nanos
    return stamp
}

/// A fully populated execution (every field, a map entry, a timestamp), built in `arena`.
private func sampleExecution(_ arena: ProtoArena, agent: String, executionTime: Double) -> UnsafeMutablePointer<Learning__V1__Execution> {
    let execution = arena.message(learning__v1__execution__init)
    execution.pointee.agent_name = arena.string(agent)
    execution.pointee.task_id = arena.string("6f1c1f9e-3b7a-4c1e-9a53-2f0d6f2b9a10")
    execution.pointee.task_type = arena.string("strategic_planning")
    execution.pointee.has_execution_time_case = LEARNING__V1__EXECUTION__HAS_EXECUTION_TIME_EXECUTION_TIME
    execution.pointee.execution_time = executionTime
    execution.pointee.success = 1
    execution.pointee.error_message = arena.string("timeout — retried")
    execution.pointee.event_id = arena.string("evt-\(agent)")
    let usage = arena.message(learning__v1__resource_usage__init)
    usage.pointee.has_cpu_case = LEARNING__V1__RESOURCE_USAGE__HAS_CPU_CPU
    usage.pointee.cpu = 37.5
    usage.pointee.has_tokens_case = LEARNING__V1__RESOURCE_USAGE__HAS_TOKENS_TOKENS
    usage.pointee.tokens = 1200
    let entry = arena.message(learning__v1__resource_usage__other_entry__init)
    entry.pointee.key = arena.string("gpu_seconds")
    entry.pointee.value = 3.25
    usage.pointee.other = arena.array([Optional(entry)])
    usage.pointee.n_other = 1
    execution.pointee.resource_usage = usage
    execution.pointee.timestamp = timestamp(arena, seconds: 1_737_801_000, nanos: 500)
    return execution
}

private func subjects() -> [Subject] {
    let arena = ProtoArena()
    let execution = sampleExecution(arena, agent: "director", executionTime: 12.5)

    let batch = arena.message(learning__v1__log_executions_request__init)
    let executions = (0..<3).map { Optional(sampleExecution(arena, agent: "coder-0\($0)", executionTime: Double($0) + 0.5)) }
    batch.pointee.executions = arena.array(executions)
    batch.pointee.n_executions = executions.count

    let register = arena.message(learning__v1__register_agent_request__init)
    register.pointee.name = arena.string("security-auditor")
    register.pointee.description = arena.string("Reviews changes for vulnerabilities")
    let tools = ["Read", "Grep", "Bash"]
    register.pointee.tools = arena.strings(tools)
    register.pointee.n_tools = tools.count
    register.pointee.model = arena.string("sonnet")
    let meta = arena.message(learning__v1__register_agent_request__metadata_entry__init)
    meta.pointee.key = arena.string("team")
    meta.pointee.value = arena.string("platform")
    register.pointee.metadata = arena.array([Optional(meta)])
    register.pointee.n_metadata = 1

    let reflection = arena.message(grpc__reflection__v1__server_reflection_request__init)
    reflection.pointee.host = arena.string("localhost")
    reflection.pointee.message_request_case = GRPC__REFLECTION__V1__SERVER_REFLECTION_REQUEST__MESSAGE_REQUEST_FILE_CONTAINING_SYMBOL
    reflection.pointee.file_containing_symbol = arena.string("learning.v1.LearningSystem")

    let stamp = timestamp(arena, seconds: -62_135_596_800, nanos: 999_999_999)

    return [
        Subject(name: "Execution", seed: packMessage(execution)) { feed($0, learning__v1__execution__unpack) },
        Subject(name: "LogExecutionsRequest", seed: packMessage(batch)) { feed($0, learning__v1__log_executions_request__unpack) },
        Subject(name: "RegisterAgentRequest", seed: packMessage(register)) { feed($0, learning__v1__register_agent_request__unpack) },
        Subject(name: "ServerReflectionRequest", seed: packMessage(reflection)) { feed($0, grpc__reflection__v1__server_reflection_request__unpack) },
        Subject(name: "Timestamp", seed: packMessage(stamp)) { feed($0, google__protobuf__timestamp__unpack) },
    ]
}

/// A byte string derived from `seed` (or from nothing) by one or more random edits.
private func mutate(_ seed: [UInt8], _ rng: inout SplitMix64) -> [UInt8] {
    var bytes = seed
    if Int.random(in: 0..<10, using: &rng) == 0 { // pure noise, now and then
        return (0..<Int.random(in: 0...64, using: &rng)).map { _ in UInt8.random(in: 0...255, using: &rng) }
    }
    for _ in 0..<Int.random(in: 1...4, using: &rng) {
        switch Int.random(in: 0..<7, using: &rng) {
        case 0 where !bytes.isEmpty: // flip one bit
            let i = Int.random(in: 0..<bytes.count, using: &rng)
            bytes[i] ^= 1 << UInt8.random(in: 0..<8, using: &rng)
        case 1 where !bytes.isEmpty: // overwrite one byte
            bytes[Int.random(in: 0..<bytes.count, using: &rng)] = UInt8.random(in: 0...255, using: &rng)
        case 2: // insert random bytes
            let i = Int.random(in: 0...bytes.count, using: &rng)
            bytes.insert(contentsOf: (0..<Int.random(in: 1...8, using: &rng)).map { _ in UInt8.random(in: 0...255, using: &rng) }, at: i)
        case 3 where !bytes.isEmpty: // delete a range
            let i = Int.random(in: 0..<bytes.count, using: &rng)
            bytes.removeSubrange(i..<min(bytes.count, i + Int.random(in: 1...8, using: &rng)))
        case 4 where !bytes.isEmpty: // truncate
            bytes.removeLast(Int.random(in: 1...bytes.count, using: &rng))
        case 5 where !bytes.isEmpty: // duplicate a slice (repeated fields, repeated oneof members)
            let i = Int.random(in: 0..<bytes.count, using: &rng)
            let slice = bytes[i..<min(bytes.count, i + Int.random(in: 1...16, using: &rng))]
            bytes.insert(contentsOf: slice, at: Int.random(in: 0...bytes.count, using: &rng))
        default: // an overlong or huge varint: length and tag fields that lie
            let i = Int.random(in: 0...bytes.count, using: &rng)
            bytes.insert(contentsOf: [UInt8](repeating: 0xFF, count: Int.random(in: 1...11, using: &rng)) + [0x01], at: i)
        }
    }
    return bytes
}

@Test func seedMessagesRoundTrip() {
    for subject in subjects() {
        #expect(!subject.seed.isEmpty, "\(subject.name)")
        #expect(subject.feed(subject.seed) == .roundTrips, "\(subject.name)")
    }
}

@Test func hundredThousandMutatedInputsNeverCrashAndWhatDecodesRoundTrips() {
    let subjects = subjects()
    var rng = SplitMix64(state: 0x1EA2_0215_C0FF_EE00)
    var accepted = [Int](repeating: 0, count: subjects.count)
    var rejected = [Int](repeating: 0, count: subjects.count)
    var unstable: [String] = []
    for iteration in 0..<100_000 {
        let s = iteration % subjects.count
        // Mostly the subject's own seed; sometimes another type's, to cross wire shapes.
        let seed = Int.random(in: 0..<5, using: &rng) == 0 ? subjects.randomElement(using: &rng)!.seed : subjects[s].seed
        let bytes = mutate(seed, &rng)
        switch subjects[s].feed(bytes) {
        case .rejected: rejected[s] += 1
        case .roundTrips: accepted[s] += 1
        case .changedOnRepack:
            if unstable.count < 5 { unstable.append("\(subjects[s].name): \(bytes.map { String($0, radix: 16) })") }
        }
    }
    #expect(unstable.isEmpty, "decoded but did not survive pack/unpack/pack: \(unstable)")
    for (i, subject) in subjects.enumerated() {
        // Both paths must really be exercised for every type.
        #expect(accepted[i] > 500, "\(subject.name): only \(accepted[i]) mutated inputs decoded")
        #expect(rejected[i] > 500, "\(subject.name): only \(rejected[i]) mutated inputs were rejected")
    }
}

@Test func randomValidExecutionsRoundTripFieldByField() throws {
    var rng = SplitMix64(state: 42)
    let alphabet = Array("abcdefghijklmnopqrstuvwxyz0123456789-_ éü日本🙂")
    func text(_ maxLength: Int) -> String {
        String((0..<Int.random(in: 0...maxLength, using: &rng)).map { _ in alphabet.randomElement(using: &rng)! })
    }
    for _ in 0..<2_000 {
        let arena = ProtoArena()
        let agent = text(40), taskType = text(20), error = text(200)
        let seconds = Double.random(in: 0...1e6, using: &rng)
        let success = Bool.random(using: &rng)
        let hasTime = Bool.random(using: &rng)
        let stampSeconds = Int64.random(in: -62_135_596_800...253_402_300_799, using: &rng)
        let execution = arena.message(learning__v1__execution__init)
        execution.pointee.agent_name = arena.string(agent)
        execution.pointee.task_type = arena.string(taskType)
        execution.pointee.error_message = arena.string(error)
        execution.pointee.success = success ? 1 : 0
        if hasTime {
            execution.pointee.has_execution_time_case = LEARNING__V1__EXECUTION__HAS_EXECUTION_TIME_EXECUTION_TIME
            execution.pointee.execution_time = seconds
        }
        execution.pointee.timestamp = timestamp(arena, seconds: stampSeconds, nanos: 0)

        let decoded = try #require(unpackMessage(packMessage(execution), learning__v1__execution__unpack))
        let message = decoded.message
        #expect(stringField(message.agent_name) == agent)
        #expect(stringField(message.task_type) == taskType)
        #expect(stringField(message.error_message) == error)
        #expect((message.success != 0) == success)
        #expect((message.has_execution_time_case == LEARNING__V1__EXECUTION__HAS_EXECUTION_TIME_EXECUTION_TIME) == hasTime)
        if hasTime { #expect(message.execution_time == seconds) }
        #expect(message.timestamp.pointee.seconds == stampSeconds)
    }
}
