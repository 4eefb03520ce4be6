// Collaboration aggregates: per UTC day, the tasks several agents worked on. A task belongs to the
// day of its latest execution (ties: the higher id) and counts its executions from the midnight
// before that day on, so a task across one midnight counts whole and once; it succeeded when its
// latest execution did. A day is summed by PostgreSQL's GROUP BY over the rows of that day and
// its two neighbours only (three partitions) and replaces what was stored for the day, with the
// number of rows those three days had: the service sums a day again whenever
// its own count of the day's executions differs (checked every 30 s, and after a restart). The
// window's figures are the sum over its days, read back as one small result (per agent and per
// pair), never per task.
import Foundation
import LearningCore
public import LearningRepository

extension LearningStore {
    /// Sums the multi-agent tasks of UTC day `day` (days since 1970-01-01) from its rows and
    /// stores the result in place of what was stored for the day, in one transaction; returns
    /// the day's rows counted (in the same snapshot).
    @discardableResult
    public func refreshCollaboration(day: Int32) async throws -> Int64 {
        try await pool.transaction("BEGIN ISOLATION LEVEL REPEATABLE READ") { c in
            // The candidates' hash holds every task id of three days (at 1.1 M rows a day,
            // ~640 MB in memory); past the limit it spills to disk rather than grow.
            try c.execute("SET LOCAL jit = off")
            try c.execute("SET LOCAL work_mem = '128MB'")
            try c.execute("SET LOCAL hash_mem_multiplier = 4")
            let dayRows = try c.query("""
                SELECT count(*) FROM agents.execution_log
                WHERE timestamp >= timestamp '1970-01-01' + ($1::int - 1) * interval '1 day'
                  AND timestamp < timestamp '1970-01-01' + ($1::int + 2) * interval '1 day'
                """, [.int(Int(day))]).int64(0, 0) ?? 0
            let rows = try c.queryPrepared("collaboration_day", Self.collaborationDaySQL, [.int(Int(day))])
            var multi: Int64 = 0, succeeded: Int64 = 0
            var agents: [String] = [], partners: [String] = []
            var tasks: [Int64] = [], executions: [Int64] = [], successes: [Int64] = [], succeededTasks: [Int64] = []
            for r in 0..<rows.count {
                let agent = rows[r, 0], partner = rows[r, 1]
                let t = rows.int64(r, 2) ?? 0, s = rows.int64(r, 5) ?? 0
                guard let agent else { multi = t; succeeded = s; continue }  // the day's totals
                agents.append(agent)
                partners.append(partner ?? "")
                tasks.append(t)
                executions.append(rows.int64(r, 3) ?? 0)
                successes.append(rows.int64(r, 4) ?? 0)
                succeededTasks.append(s)
            }
            try c.query("DELETE FROM agents.collaboration_aggregates WHERE day = date '1970-01-01' + $1::int", [.int(Int(day))])
            try c.query("""
                INSERT INTO agents.collaboration_days (day, multi_agent_tasks, succeeded_tasks, executions)
                VALUES (date '1970-01-01' + $1::int, $2, $3, $4)
                ON CONFLICT (day) DO UPDATE SET multi_agent_tasks = excluded.multi_agent_tasks,
                    succeeded_tasks = excluded.succeeded_tasks, executions = excluded.executions,
                    computed_at = now() AT TIME ZONE 'UTC'
                """, [.int(Int(day)), .int(Int(multi)), .int(Int(succeeded)), .int(Int(dayRows))])
            if !agents.isEmpty {
                try c.query("""
                    INSERT INTO agents.collaboration_aggregates (agent_name, partner, day, tasks, executions, successes, succeeded_tasks)
                    SELECT a, p, date '1970-01-01' + $3::int, t, e, s, st
                    FROM unnest($1::varchar[], $2::varchar[], $4::int8[], $5::int8[], $6::int8[], $7::int8[]) AS u(a, p, t, e, s, st)
                    """, [.text(PGText.array(agents)), .text(PGText.array(partners)), .int(Int(day)),
                          .text(PGText.array(tasks)), .text(PGText.array(executions)), .text(PGText.array(successes)),
                          .text(PGText.array(succeededTasks))])
            }
            return dayRows
        }
    }

    /// The days whose collaboration is stored, with the number of rows each had when summed.
    public func collaborationDays() async throws -> [Int32: Int64] {
        let rows = try await pool.withConnection { c in
            try c.query("SELECT (day - date '1970-01-01'), executions FROM agents.collaboration_days")
        }
        var days: [Int32: Int64] = [:]
        for r in 0..<rows.count {
            if let day = rows.int64(r, 0) { days[Int32(clamping: day)] = rows.int64(r, 1) ?? 0 }
        }
        return days
    }

    /// Forgets the stored collaboration of `days` (they left the window, or lost their rows).
    public func deleteCollaboration(days: [Int32]) async throws {
        guard !days.isEmpty else { return }
        let list = PGText.array(days.map { Int64($0) })
        try await pool.transaction { c in
            try c.query("DELETE FROM agents.collaboration_aggregates WHERE day = ANY(SELECT date '1970-01-01' + d FROM unnest($1::int[]) d)",
                        [.text(list)])
            try c.query("DELETE FROM agents.collaboration_days WHERE day = ANY(SELECT date '1970-01-01' + d FROM unnest($1::int[]) d)",
                        [.text(list)])
        }
    }

    /// The stored collaboration of the days before `before`, summed.
    public func collaborationSums(before: Int32) async throws -> CollaborationSums {
        // (Days past year 9999 are no dates: every stored day is before this one.)
        let before = min(before, 2_900_000)
        return try await pool.withConnection { c in
            let range: [PGParam] = [.int(Int(before))]
            var sums = CollaborationSums()
            let totals = try c.query("""
                SELECT coalesce(sum(multi_agent_tasks), 0)::int8, coalesce(sum(succeeded_tasks), 0)::int8
                FROM agents.collaboration_days
                WHERE day < date '1970-01-01' + $1::int
                """, range)
            sums.multiAgentTasks = totals.int64(0, 0) ?? 0
            sums.succeededTasks = totals.int64(0, 1) ?? 0
            let rows = try c.query("""
                SELECT agent_name, partner, sum(tasks)::int8, sum(executions)::int8, sum(successes)::int8, sum(succeeded_tasks)::int8
                FROM agents.collaboration_aggregates
                WHERE day < date '1970-01-01' + $1::int
                GROUP BY 1, 2
                """, range)
            for r in 0..<rows.count {
                let agent = rows[r, 0] ?? "", partner = rows[r, 1] ?? ""
                let tasks = rows.int64(r, 2) ?? 0, executions = rows.int64(r, 3) ?? 0
                let successes = rows.int64(r, 4) ?? 0, succeeded = rows.int64(r, 5) ?? 0
                var counts = CollaborationSums.Counts()
                (counts.tasks, counts.executions, counts.successes, counts.succeededTasks) = (tasks, executions, successes, succeeded)
                if partner.isEmpty {
                    sums.agents[agent] = counts
                } else {
                    sums.pairs[CollaborationSums.PairNames(agent, partner)] = counts
                }
            }
            return sums
        }
    }

    /// One day's multi-agent tasks: a row per agent (partner NULL), per pair (agent < partner,
    /// bytewise), and the day's totals (agent NULL): tasks, executions, successes, succeeded tasks.
    /// The tasks whose latest execution (over the day before, the day and the day after) is on
    /// the day, with their executions from the day before on. The candidates first: one hash
    /// over the three days' task ids keeps those with two agents whose latest is on the day
    /// (a tenth of the tasks), and only their rows are read again, sorted and paired. (Sorting
    /// every row by task first took 16.5 s for 3.3 M rows under load 9; this, 10.9 s.)
    static let collaborationDaySQL = """
        WITH t AS MATERIALIZED (
            SELECT task_id FROM agents.execution_log
            WHERE timestamp >= timestamp '1970-01-01' + ($1::int - 1) * interval '1 day'
              AND timestamp < timestamp '1970-01-01' + ($1::int + 2) * interval '1 day'
              AND task_id IS NOT NULL
            GROUP BY task_id
            HAVING min(agent_name) <> max(agent_name)
               AND max(timestamp) >= timestamp '1970-01-01' + $1::int * interval '1 day'
               AND max(timestamp) < timestamp '1970-01-01' + ($1::int + 1) * interval '1 day'),
        r AS MATERIALIZED (
            SELECT e.id, e.task_id, e.agent_name, e.success, e.timestamp
            FROM agents.execution_log e JOIN t USING (task_id)
            WHERE e.timestamp >= timestamp '1970-01-01' + ($1::int - 1) * interval '1 day'
              AND e.timestamp < timestamp '1970-01-01' + ($1::int + 1) * interval '1 day'),
        outcome AS MATERIALIZED (
            SELECT DISTINCT ON (task_id) task_id, success FROM r ORDER BY task_id, timestamp DESC, id DESC),
        per AS MATERIALIZED (
            SELECT task_id, agent_name, count(*)::int8 n, count(*) FILTER (WHERE success)::int8 s FROM r GROUP BY 1, 2)
        SELECT NULL::varchar, NULL::varchar, count(*)::int8, 0::int8, 0::int8, count(*) FILTER (WHERE success)::int8
        FROM outcome
        UNION ALL
        SELECT p.agent_name, NULL, count(*)::int8, sum(p.n)::int8, sum(p.s)::int8, count(*) FILTER (WHERE o.success)::int8
        FROM per p JOIN outcome o USING (task_id) GROUP BY 1
        UNION ALL
        SELECT a.agent_name, b.agent_name, count(*)::int8, sum(a.n + b.n)::int8, sum(a.s + b.s)::int8,
               count(*) FILTER (WHERE o.success)::int8
        FROM per a JOIN per b ON a.task_id = b.task_id AND a.agent_name COLLATE "C" < b.agent_name COLLATE "C"
             JOIN outcome o ON o.task_id = a.task_id
        GROUP BY 1, 2
        """
}
