import Foundation
import LearningCore
import Testing
@testable import LearningService

@Suite("Agent definition files")
struct AgentDefinitionFileTests {
    @Test func readsClaudeCodeSubagentWithCommaTools() throws {
        let text = """
            ---
            name: code-reviewer
            description: Expert code review specialist. Use after writing code.
            tools: Read, Grep, Glob, Bash
            model: sonnet
            ---
            You are a senior code reviewer ensuring high standards.
            """
        let agent = try AgentDefinitionFile.parse(text, path: "/x/code-reviewer.md")
        #expect(agent.name == "code-reviewer")
        #expect(agent.description == "Expert code review specialist. Use after writing code.")
        #expect(agent.tools == ["Read", "Grep", "Glob", "Bash"])
        #expect(agent.model == "sonnet")
        #expect(agent.source == "definition_file")
    }

    @Test func readsListsQuotesBlockScalarsAndComments() throws {
        let text = """
            ---
            # a comment
            name: "director"
            description: >
              Plans the work
              of the others.
            tools:
              - Read
              - 'Write'
            model: opus # the big one
            color: blue
            ---
            body
            """
        let agent = try AgentDefinitionFile.parse(text, path: "/x/director.md")
        #expect(agent.name == "director")
        #expect(agent.description == "Plans the work of the others.")
        #expect(agent.tools == ["Read", "Write"])
        #expect(agent.model == "opus")
        #expect(agent.metadata["color"] == "blue")

        let flow = try AgentDefinitionFile.parse("---\nname: a1\ntools: [Read, \"Edit\"]\n---\n", path: "/x/a1.md")
        #expect(flow.tools == ["Read", "Edit"])
        let nameless = try AgentDefinitionFile.parse("---\ndescription: d\n---\n", path: "/x/planner.md")
        #expect(nameless.name == "planner")
    }

    @Test func rejectsFilesWithoutFrontMatterOrWithBadNames() {
        #expect(throws: AgentDefinitionFile.ParseError.self) { try AgentDefinitionFile.parse("# just markdown", path: "/x/a.md") }
        #expect(throws: AgentDefinitionFile.ParseError.self) { try AgentDefinitionFile.parse("---\nname: a\n", path: "/x/a.md") }
        #expect(throws: AgentDefinitionFile.ParseError.self) { try AgentDefinitionFile.parse("---\nname: bad name!\n---\n", path: "/x/a.md") }
    }

    @Test func scannerReportsNewChangedAndRemovedFiles() throws {
        let directory = NSTemporaryDirectory() + "agents-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try "---\nname: alpha\nmodel: sonnet\n---\n".write(toFile: directory + "/alpha.md", atomically: true, encoding: .utf8)
        try "---\nname: beta\n---\n".write(toFile: directory + "/beta.md", atomically: true, encoding: .utf8)
        try "not an agent".write(toFile: directory + "/notes.txt", atomically: true, encoding: .utf8)
        let scanner = AgentDirectoryScanner(directory: directory)
        let first = scanner.scan()
        #expect(Set(first.updated.map(\.name)) == ["alpha", "beta"])
        #expect(scanner.scan().updated.isEmpty, "unchanged files are not re-read")
        try "---\nname: alpha\nmodel: opus-longer-name\n---\n".write(toFile: directory + "/alpha.md", atomically: true, encoding: .utf8)
        try FileManager.default.removeItem(atPath: directory + "/beta.md")
        try "---\nname: broken name\n---\n".write(toFile: directory + "/broken.md", atomically: true, encoding: .utf8)
        let second = scanner.scan()
        #expect(second.updated.map(\.name) == ["alpha"])
        #expect(second.updated.first?.model == "opus-longer-name")
        #expect(second.removed.count == 1 && second.removed[0].hasSuffix("beta.md"))
        #expect(second.errors.count == 1 && second.errors[0].contains("broken.md"))
    }
}

@Suite("Agent health rule")
struct AgentHealthRuleTests {
    let now = Date(timeIntervalSince1970: 1_800_000_000)

    @Test func followsLastSeenAndRecentSuccess() {
        func status(_ age: Double?, _ successes: Int, _ total: Int) -> String {
            AgentHealthRule.evaluate(lastSeen: age.map { now.addingTimeInterval(-$0) }, now: now, healthCheckInterval: 30,
                                     recentSuccesses: successes, recentTotal: total).status
        }
        #expect(status(nil, 0, 0) == "unknown")
        #expect(status(10, 10, 10) == "healthy")
        #expect(status(10, 1, 2) == "healthy", "too few executions to judge")
        #expect(status(10, 7, 10) == "degraded")
        #expect(status(10, 4, 10) == "unhealthy")
        #expect(status(90, 10, 10) == "degraded")
        #expect(status(301, 10, 10) == "unhealthy")
    }
}

@Suite("Input validation")
struct ValidationTests {
    @Test func agentNamesFollowThePattern() throws {
        try Validation.agentName("director")
        try Validation.agentName("a.b_c-9")
        try Validation.agentName(String(repeating: "a", count: 255))
        for bad in ["", "-lead", "has space", "semi;colon", "ünïcode", String(repeating: "a", count: 256), "a\u{0}b"] {
            #expect(throws: ServiceError.self) { try Validation.agentName(bad) }
        }
    }

    @Test func executionsAreCheckedFieldByField() throws {
        let now = Date()
        let good = ExecutionInput(agentName: "director", taskID: "6F9619FF-8B86-D011-B42D-00C04FC964FF", taskType: "strategic_planning",
                                  executionTime: 1.5, success: true, resourceUsage: ResourceUsage(cpu: 10, memoryMB: 200))
        let record = try Validation.execution(good, now: now)
        #expect(record.taskID == "6f9619ff-8b86-d011-b42d-00c04fc964ff")
        #expect(record.timestamp == now)
        var cases: [(ExecutionInput, String)] = []
        var bad = good; bad.taskID = "not\ta-uuid"; cases.append((bad, "task_id")) // an id that is not a UUID is mapped; a control character is refused
        bad = good; bad.executionTime = -1; cases.append((bad, "execution_time"))
        bad = good; bad.executionTime = .nan; cases.append((bad, "execution_time"))
        bad = good; bad.executionTime = .infinity; cases.append((bad, "execution_time"))
        bad = good; bad.timestamp = now.addingTimeInterval(3600); cases.append((bad, "timestamp"))
        bad = good; bad.timestamp = Date(timeIntervalSince1970: 0); cases.append((bad, "timestamp"))
        bad = good; bad.resourceUsage.cpu = -3; cases.append((bad, "resource_usage.cpu"))
        bad = good; bad.resourceUsage.other = ["gpu": .nan]; cases.append((bad, "resource_usage.other"))
        bad = good; bad.taskType = "has space"; cases.append((bad, "task_type"))
        bad = good; bad.errorMessage = String(repeating: "x", count: 70_000); cases.append((bad, "error_message"))
        bad = good; bad.eventID = "has space"; cases.append((bad, "event_id"))
        bad = good; bad.agentName = ""; cases.append((bad, "agent_name"))
        for (input, field) in cases {
            do {
                _ = try Validation.execution(input, now: now)
                Issue.record("accepted a bad \(field)")
            } catch let error as ServiceError {
                guard case .invalidArgument(let detail) = error else { Issue.record("wrong error \(error)"); continue }
                #expect(detail.contains(field), "\(detail) should name \(field)")
            }
        }
    }

    @Test func anErrorOfUnknownKindIsInternalWithoutItsText() {
        // The HTTP and gRPC statuses of each case are pinned where they are mapped (LearningRESTTests,
        // LearningRPC's tests); the service's errors know neither protocol.
        struct Other: Error {}
        #expect(ServiceError.wrap(Other()) == .internal("internal error"))
    }
}

@Suite("Process metrics")
struct ProcessMetricsTests {
    @Test func memoryAndCPUAreMeasured() async throws {
        let metrics = ProcessMetrics(window: .seconds(5))
        #expect(metrics.residentMemoryMB() > 1)
        metrics.sample()
        // Burn CPU for a while: the figure must move above zero.
        let start = ContinuousClock.now
        var x = 0.0
        while ContinuousClock.now - start < .milliseconds(300) { x += sin(x + 1) }
        #expect(x.isFinite)
        let cpu = metrics.cpuUsagePercent()
        // The machine is shared: the loop may get only part of a core, but it must show.
        #expect(cpu > 1, "busy loop should show CPU use, got \(cpu)")
        #expect(cpu < 250)
    }
}
