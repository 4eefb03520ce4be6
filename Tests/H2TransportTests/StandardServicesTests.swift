import Foundation
import Testing
@testable import GRPCStandardServices
@testable import H2Transport

/// A test server that also serves health and reflection, like learning-server will.
func makeServerWithStandardServices(_ health: HealthService) throws -> TestServer {
    let probe = HandlerProbe()
    var router = makeTestRouter(probe: probe)
    health.register(into: &router)
    let reflection = try ReflectionService(descriptorSet: embeddedDescriptorSet())
    reflection.register(into: &router)
    let server = try TestServer(router: router)
    health.attach(to: server.server)
    return server
}

@Suite(.serialized) struct StandardServicesTests {
    @Test func healthCheckReportsWholeServerAndNamedServices() async throws {
        try await offload {
            let health = HealthService()
            #expect(health.status(forService: "") == .notServing) // while starting
            let server = try makeServerWithStandardServices(health)
            defer { server.stop() }
            health.setStatus(.serving, forService: "learning.v1.LearningSystem")
            let port = String(server.port)
            #expect(try runPythonClient(["health", port]).json()["status"] as? String == "SERVING")
            #expect(try runPythonClient(["health", port, "learning.v1.LearningSystem"]).json()["status"] as? String == "SERVING")
            #expect(try runPythonClient(["health", port, "no.Such"]).json()["code"] as? String == "NOT_FOUND")
            health.setStatus(.notServing, forService: "learning.v1.LearningSystem")
            #expect(try runPythonClient(["health", port, "learning.v1.LearningSystem"]).json()["status"] as? String == "NOT_SERVING")
        }
    }

    @Test func healthWatchStreamsStatusChanges() async throws {
        try await offload {
            let health = HealthService()
            let server = try makeServerWithStandardServices(health)
            defer { server.stop() }
            health.setStatus(.serving, forService: "svc")
            // The change comes once the client's Watch is registered (it has then been sent SERVING),
            // not after a fixed sleep that a slow Python start-up on a loaded machine can outlast.
            startThread {
                try? waitUntil { health.watcherCount(forService: "svc") == 1 }
                health.setStatus(.notServing, forService: "svc")
            }
            let result = try runPythonClient(["health_watch", String(server.port), "svc", "2"]).json()
            #expect((result["statuses"] as? [String]) == ["SERVING", "NOT_SERVING"])
        }
    }

    @Test func healthTurnsNotServingWhenTheServerDrains() async throws {
        try await offload {
            let health = HealthService()
            let server = try makeServerWithStandardServices(health)
            #expect(health.status(forService: "") == .serving)
            health.setStatus(.serving, forService: "learning.v1.LearningSystem")
            server.stop()
            #expect(health.status(forService: "") == .notServing)
            #expect(health.status(forService: "learning.v1.LearningSystem") == .notServing)
        }
    }

    @Test func reflectionListsAndDescribesEveryService() async throws {
        try await offload {
            let server = try makeServerWithStandardServices(HealthService())
            defer { server.stop() }
            let result = try runPythonClient(["reflection", String(server.port), "learning.v1.Execution"]).json()
            #expect((result["services"] as? [String]) == ["grpc.health.v1.Health", "grpc.reflection.v1.ServerReflection",
                                                           "grpc.reflection.v1alpha.ServerReflection",
                                                           "learning.v1.LearningSystem",
                                                           "opentelemetry.proto.collector.trace.v1.TraceService"])
            let methods = result["methods"] as? [String: [String]] ?? [:]
            #expect(methods["learning.v1.LearningSystem"]?.contains("WatchInsights") == true)
            // Every rpc of Protos/learning/v1/learning.proto is described.
            #expect(methods["learning.v1.LearningSystem"]?.count == 24)
            #expect(methods["learning.v1.LearningSystem"]?.contains("GetErrorSignatures") == true)
            #expect(methods["grpc.health.v1.Health"] == ["Check", "Watch"])
            #expect(methods["opentelemetry.proto.collector.trace.v1.TraceService"] == ["Export"])
            #expect((result["message_fields"] as? [String])?.contains("event_id") == true)
        }
    }

    @Test func reflectionV1AnswersFileContainingSymbolWithDependencies() async throws {
        try await offload {
            let server = try makeServerWithStandardServices(HealthService())
            defer { server.stop() }
            let result = try runPythonClient(["reflection_v1", String(server.port),
                                              "learning.v1.LearningSystem.GetHealth"]).json()
            #expect((result["services"] as? [String])?.contains("learning.v1.LearningSystem") == true)
            #expect((result["files"] as? [String]) == ["learning/v1/learning.proto", "google/protobuf/timestamp.proto"])
            #expect(result["missing_code"] as? Int == 5)
        }
    }
}

@Suite(.serialized) struct ShutdownTests {
    @Test func gracefulShutdownLetsInFlightCallsFinishAndRefusesNewOnes() async throws {
        try await offload {
            let server = try TestServer()
            let port = String(server.port)
            let inFlight = DispatchGroup()
            nonisolated(unsafe) var slowResult: [String: Any] = [:]
            inFlight.enter()
            startThread {
                slowResult = (try? runPythonClient(["agent", port, "short"]).json()) ?? [:]
                inFlight.leave()
            }
            // Wait until the call is running in the handler, then shut down.
            try waitUntil({ server.probe.startedSlowCalls.load(ordering: .relaxed) == 1 })
            let stopped = DispatchSemaphore(value: 0)
            // A grace period far longer than the call (0.6 s) needs even on a loaded machine, so that
            // "shutdown ended early" and "shutdown waited out the grace period" stay distinguishable.
            let grace = TestTiming.patience(.seconds(6))
            nonisolated(unsafe) var shutdownTook = Duration.zero
            startThread {
                let start = ContinuousClock.now
                server.server.shutdown(grace: grace)
                shutdownTook = ContinuousClock.now - start
                stopped.signal()
            }
            try waitUntil { server.server.lifecycleState == .draining }
            // New connections are refused while draining.
            let refused = try runPythonClient(["agent", port, "director"]).json()
            #expect(refused["code"] as? String == "UNAVAILABLE")
            inFlight.wait()
            stopped.wait()
            #expect(slowResult["code"] as? String == "OK")
            #expect(server.probe.completedSlowCalls.load(ordering: .relaxed) == 1)
            #expect(server.server.lifecycleState == .stopped)
            // Done when the last call finished, well before the grace period ran out.
            #expect(shutdownTook < grace / 2)
        }
    }
}
