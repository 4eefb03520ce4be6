import Foundation
import Synchronization

/// Fans new insights and anomalies out to `WatchInsights` subscribers. Each subscriber has a
/// bounded buffer (the newest `bufferSize` events are kept when it reads too slowly), so a stalled
/// client cannot make the service's memory grow.
final class InsightBroadcaster: Sendable {
    private struct Subscriber {
        var request: WatchInsightsRequest
        var continuation: AsyncStream<InsightEvent>.Continuation
    }

    private let subscribers = Mutex<[UInt64: Subscriber]>([:])
    private let nextID = Atomic<UInt64>(0)
    private let closed = Atomic<Bool>(false)
    let bufferSize: Int

    init(bufferSize: Int = 1_024) {
        self.bufferSize = bufferSize
    }

    /// Subscribers now connected.
    var count: Int { subscribers.withLock { $0.count } }

    /// A new subscription; it ends when the service shuts down.
    func subscribe(_ request: WatchInsightsRequest) -> AsyncStream<InsightEvent> {
        let (stream, continuation) = AsyncStream.makeStream(of: InsightEvent.self, bufferingPolicy: .bufferingNewest(bufferSize))
        if closed.load(ordering: .acquiring) {
            continuation.finish()
            return stream
        }
        let id = nextID.add(1, ordering: .relaxed).newValue
        subscribers.withLock { $0[id] = Subscriber(request: request, continuation: continuation) }
        continuation.onTermination = { [weak self] _ in
            _ = self?.subscribers.withLock { $0.removeValue(forKey: id) }
        }
        return stream
    }

    /// Sends an event to every subscriber whose filter it matches.
    func publish(_ event: InsightEvent) {
        let targets = subscribers.withLock { $0.values.filter { Self.matches(event, $0.request) }.map(\.continuation) }
        for continuation in targets { continuation.yield(event) }
    }

    /// Ends every subscription (shutdown).
    func finishAll() {
        closed.store(true, ordering: .releasing)
        let all = subscribers.withLock { subscribers -> [AsyncStream<InsightEvent>.Continuation] in
            let all = subscribers.values.map(\.continuation)
            subscribers.removeAll()
            return all
        }
        for continuation in all { continuation.finish() }
    }

    static func matches(_ event: InsightEvent, _ request: WatchInsightsRequest) -> Bool {
        switch event {
        case .insight(let insight):
            if !request.kinds.isEmpty && !request.kinds.contains(insight.kind) { return false }
            if !request.agentName.isEmpty && !insight.agents.contains(request.agentName) { return false }
        case .anomaly(let anomaly):
            if !request.kinds.isEmpty && !request.kinds.contains("anomaly") && !request.kinds.contains(anomaly.kind) { return false }
            if !request.agentName.isEmpty && anomaly.agentName != request.agentName { return false }
        }
        return true
    }
}
