public import LearningAPI

// Helpers shared by the REST test targets (LearningRESTTests drives the shim in process,
// LearningRESTIntegrationTests the real stack over sockets): the guide's JSON examples and the
// shape comparison both use to check responses field by field.

/// The guide's `/health` example, verbatim.
public let guideHealth = """
{
  "status": "healthy",
  "service": "learning-system",
  "database": "connected",
  "agents_registered": 71,
  "timestamp": "2025-01-25T10:30:00Z"
}
"""

/// The guide's `/status` example, verbatim.
public let guideStatus = """
{
  "learning_system": "operational",
  "database": "connected",
  "agents_registered": 71,
  "performance": {
    "queries_per_sec": 2150,
    "avg_latency_ms": 18.2,
    "success_rate": 98.7
  },
  "ml_models": {
    "pattern_recognition": "active",
    "performance_prediction": "active",
    "anomaly_detection": "active"
  }
}
"""

/// The shape of a JSON value: object keys (recursively), array element shapes, and scalar kinds.
/// `null` matches anything, so optional fields that happen to be absent still compare equal.
public indirect enum Shape: Equatable, CustomStringConvertible {
    /// Unknown (`null`): matches every shape.
    case any
    /// `boolean`, `number` or `string`.
    case scalar(String)
    /// An array and the shape of its first element (nil: empty).
    case array(Shape?)
    /// An object's members.
    case object([String: Shape])

    /// The shape of `value`.
    public init(_ value: JSONValue) {
        switch value {
        case .null: self = .any
        case .bool: self = .scalar("boolean")
        case .number: self = .scalar("number")
        case .string: self = .scalar("string")
        case let .array(elements): self = .array(elements.first.map(Shape.init))
        case let .object(members): self = .object(Dictionary(members.map { ($0.0, Shape($0.1)) }, uniquingKeysWith: { a, _ in a }))
        }
    }

    /// True when both shapes agree wherever both are known.
    public func matches(_ other: Shape) -> Bool {
        switch (self, other) {
        case (.any, _), (_, .any): return true
        case let (.scalar(a), .scalar(b)): return a == b
        case let (.array(a), .array(b)):
            guard let a, let b else { return true }
            return a.matches(b)
        case let (.object(a), .object(b)):
            // An empty object is an empty map (e.g. `metadata`), which any map matches.
            if a.isEmpty || b.isEmpty { return true }
            return Set(a.keys) == Set(b.keys) && a.allSatisfy { key, shape in shape.matches(b[key]!) }
        default: return false
        }
    }

    public var description: String {
        switch self {
        case .any: return "any"
        case let .scalar(kind): return kind
        case let .array(element): return "[\(element?.description ?? "")]"
        case let .object(members): return "{" + members.keys.sorted().map { "\($0): \(members[$0]!)" }.joined(separator: ", ") + "}"
        }
    }
}
