// What the harnesses that drive the service's own handlers share: the service over the in-memory
// repository (no database), and a way for libFuzzer's synchronous callback to wait for async work.
public import LearningService
import Dispatch
import LearningAPI
import LearningCore
import LearningInMemoryRepository
import Synchronization

/// Holds the value one async body produced for the thread that waits for it.
private final class Outcome<Value: Sendable>: Sendable {
    let value = Mutex<Value?>(nil)
}

/// Runs `body` on the concurrency pool and blocks the calling thread (libFuzzer's own, never a
/// pool thread) until it returns its value.
public func runBlocking<Value: Sendable>(_ body: @escaping @Sendable () async -> Value) -> Value {
    let outcome = Outcome<Value>()
    let done = DispatchSemaphore(value: 0)
    Task.detached {
        let value = await body()
        outcome.value.withLock { $0 = value }
        done.signal()
    }
    done.wait()
    return outcome.value.withLock { $0! }
}

/// Blocks until `deliver` has been called once with a value, e.g. from a callback a handler
/// passes to a writer thread; returns that value.
public func waitForCallback<Value: Sendable>(_ start: (@escaping @Sendable (Value) -> Void) -> Void) -> Value {
    let outcome = Outcome<Value>()
    let done = DispatchSemaphore(value: 0)
    start { value in
        outcome.value.withLock { $0 = value }
        done.signal()
    }
    done.wait()
    return outcome.value.withLock { $0! }
}

/// The real `LearningService` (default configuration, no API keys) over a fresh
/// `InMemoryRepository`, started, with the agents in `agents` registered so that the routes and
/// methods naming an agent get past the registry to their own checks.
public func startInMemoryService(registering agents: [String]) -> LearningService {
    runBlocking {
        let repository = InMemoryRepository()
        // A small history: accepted inputs stay in the learning state, so keep it bounded.
        let service = LearningService(config: LearningConfig(), store: repository, historyCapacity: 10_000)
        await service.start()
        let started = await service.waitUntilStarted(timeout: 60)
        precondition(started, "the in-memory service did not start")
        for name in agents {
            do {
                _ = try await service.registerAgent(RegisterAgentRequest(name: name, description: "fuzz target",
                                                                         tools: ["Read"], model: "opus", metadata: [:]))
            } catch {
                preconditionFailure("registering \(name): \(error)")
            }
        }
        return service
    }
}
