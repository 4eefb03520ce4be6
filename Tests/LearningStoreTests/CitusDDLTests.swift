import Foundation
import LearningTestDatabase
import Testing
@testable import LearningStore
import LearningCore
import LearningRepository

/// docs/SCALING.md "Citus" gives the DDL that distributes the schema. Citus is not installable
/// here, so this runs the document's preparation block on a migrated database on plain
/// PostgreSQL and checks its distribution block against the real schema, so the document cannot
/// drift from the migrations: every table is distributed or a reference table, distributed ones
/// by `agent_name` and colocated with `execution_log`, and every unique key of a distributed
/// table includes `agent_name` (Citus refuses the others).
@Suite("Citus DDL of docs/SCALING.md", .serialized)
struct CitusDDLTests {
    static var document: String {
        get throws {
            let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            return try String(contentsOf: root.appendingPathComponent("docs/SCALING.md"), encoding: .utf8)
        }
    }

    /// The first ```sql block after the marker `<!-- name -->`.
    static func block(_ name: String, in text: String) throws -> String {
        let marker = try #require(text.range(of: "<!-- \(name) -->"), "docs/SCALING.md has no <!-- \(name) --> block")
        let rest = text[marker.upperBound...]
        let open = try #require(rest.range(of: "```sql\n"))
        let close = try #require(rest[open.upperBound...].range(of: "```"))
        return String(rest[open.upperBound..<close.lowerBound])
    }

    @Test func theCitusDDLOfTheScalingDocumentFitsTheSchema() async throws {
        let text = try Self.document
        let prepare = try Self.block("citus-prepare", in: text)
        let distribute = try Self.block("citus-distribute", in: text)
        try await TestDatabase.withStore { store, url in
            // Rows in every table the preparation rewrites: an execution with an event id (its
            // claim gets the agent), metrics, an embedding.
            _ = try await store.logExecution(record("agent-a", event: "citus-ddl-1"))
            _ = try await store.submitMetrics(agentName: "agent-a", taskType: "analysis", sample: MetricsSample(responseTime: 1.0))
            try TestDatabase.psql(url, prepare)
            let claims = try await store.pool.withConnection { c in
                try c.query("SELECT agent_name FROM agents.execution_event_ids WHERE event_id = 'citus-ddl-1'")
            }
            #expect(claims.count == 1 && claims[0, 0] == "agent-a", "the claim kept, with its agent")

            // What the distribution block says of each table.
            let pattern = #/create_(distributed|reference)_table\('agents\.(\w+)'(?:,\s*'(\w+)')?(?:,\s*(?:shard_count => \d+|colocate_with => '([\w.]+)'))?\)/#
            var distributed: [String: (column: String, colocateWith: String?)] = [:]
            var reference: Set<String> = []
            var named: [String] = []
            for match in distribute.matches(of: pattern) {
                let table = String(match.output.2)
                named.append(table)
                if match.output.1 == "reference" {
                    reference.insert(table)
                } else {
                    distributed[table] = (String(match.output.3 ?? ""), match.output.4.map(String.init))
                }
            }
            #expect(distribute.split(separator: "\n").filter { $0.contains("_table(") }.count == named.count,
                    "every create_*_table line of the block is understood")

            let tables = try await store.pool.withConnection { c in
                try c.query("""
                    SELECT c.relname FROM pg_class c WHERE c.relnamespace = 'agents'::regnamespace
                      AND c.relkind IN ('r', 'p') AND NOT c.relispartition ORDER BY 1
                    """)
            }
            let schema = (0..<tables.count).compactMap { tables[$0, 0] }
            #expect(Set(named) == Set(schema) && named.count == schema.count,
                    "each table of the schema is named once: missing \(Set(schema).subtracting(named).sorted()), unknown \(Set(named).subtracting(schema).sorted())")
            #expect(distributed["execution_log"]?.column == "agent_name")
            for (table, spec) in distributed {
                #expect(spec.column == "agent_name", "\(table) is distributed by \(spec.column)")
                if table != "execution_log" {
                    #expect(spec.colocateWith == "agents.execution_log", "\(table) is colocated with execution_log")
                }
                // Every unique key (primary keys, unique constraints and unique indexes).
                let keys = try await store.pool.withConnection { c in
                    try c.query("""
                        SELECT i.indexrelid::regclass::text,
                               coalesce(array_agg(a.attname::text ORDER BY a.attname) FILTER (WHERE a.attname IS NOT NULL), '{}')::text
                        FROM pg_index i
                        LEFT JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey)
                        WHERE i.indrelid = ('agents.' || $1)::regclass AND i.indisunique
                        GROUP BY 1
                        """, [.text(table)])
                }
                #expect(keys.count >= 1 || table == "execution_aggregates", "\(table) has a primary key")
                for r in 0..<keys.count {
                    let columns = PGText.parseArray(keys[r, 1] ?? "{}").compactMap { $0 }
                    #expect(columns.contains("agent_name"), "the unique key \(keys[r, 0] ?? "?") of \(table) is \(columns): it must include agent_name")
                }
            }
        }
    }
}
