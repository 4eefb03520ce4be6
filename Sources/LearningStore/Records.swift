// Rows of the tables besides execution_log that only this store's own callers see (the rows the
// service reads and writes are LearningRepository's).

/// One result of a similarity search over `agents.agent_embeddings`.
public struct SimilarEmbedding: Sendable, Equatable {
    /// The agent.
    public var agentName: String
    /// The task type of the embedding (nil: the agent's overall embedding).
    public var taskType: String?
    /// Cosine similarity, -1..1.
    public var similarity: Double
}

/// How embeddings are stored.
public enum EmbeddingMode: String, Sendable {
    /// pgvector `VECTOR(256)` with the ivfflat cosine index; PostgreSQL ranks.
    case pgvector
    /// `real[]`; the store ranks by cosine in Swift.
    case realArray
}

/// Row counts of the schema.
public struct StoreCounts: Sendable, Equatable {
    /// Rows in execution_log.
    public var executions: Int64
    /// Rows in performance_metrics.
    public var performanceMetrics: Int64
    /// Rows in agent_registry.
    public var agents: Int64
}
