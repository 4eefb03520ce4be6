// The day partitions of agents.execution_log (range-partitioned by `timestamp`, see migration 4):
// one table per UTC day named `execution_log_pYYYYMMDD`, plus `execution_log_default` for rows of
// days without a partition. Creating a day ahead keeps ingest in small tables; retention drops a
// whole day at once (no DELETE, no bloat). Names and bounds are built here from day numbers and
// checked against their format before they reach DDL (identifiers cannot be bound parameters).
import Foundation
import LearningCore
import LearningRepository

enum Partitions {
    /// Key of the transaction-scoped advisory lock that serializes partition changes between instances.
    static let advisoryLockKey: Int64 = 0x4C45_4152_4E02 // "LEARN" 2

    static let defaultPartition = "execution_log_default"

    /// Seconds in a day.
    static let day: Double = 86_400

    /// The UTC day number (days since 1970-01-01) of a date.
    static func dayNumber(_ date: Date) -> Int64 {
        Int64((date.timeIntervalSince1970 / day).rounded(.down))
    }

    /// Midnight UTC starting a day.
    static func start(ofDay d: Int64) -> Date { Date(timeIntervalSince1970: Double(d) * day) }

    /// `YYYY-MM-DD` of a day (years 1...9999), checked.
    static func dateLiteral(_ d: Int64) throws -> String {
        let (y, m, dd) = civilDate(daysSinceEpoch: d)
        guard (1...9999).contains(y) else { throw StoreError.invalidInput("partition day out of range: \(d)") }
        let text = String(format: "%04lld-%02lld-%02lld", y, m, dd)
        guard text.utf8.count == 10, text.utf8.enumerated().allSatisfy({ i, c in
            (i == 4 || i == 7) ? c == UInt8(ascii: "-") : (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(c)
        }) else { throw StoreError.invalidInput("bad partition date \(text)") }
        return text
    }

    /// `execution_log_pYYYYMMDD` of a day, checked.
    static func tableName(_ d: Int64) throws -> String {
        let name = "execution_log_p" + (try dateLiteral(d)).replacingOccurrences(of: "-", with: "")
        guard day(ofTable: name) == d else { throw StoreError.invalidInput("bad partition name \(name)") }
        return name
    }

    /// The day of a partition named `execution_log_pYYYYMMDD`, or nil for any other name.
    static func day(ofTable name: String) -> Int64? {
        let prefix = "execution_log_p"
        guard name.hasPrefix(prefix) else { return nil }
        let digits = name.dropFirst(prefix.count)
        guard digits.count == 8, digits.utf8.allSatisfy({ (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) }),
              let y = Int64(digits.prefix(4)), let m = Int64(digits.dropFirst(4).prefix(2)), let d = Int64(digits.suffix(2)),
              (1...12).contains(m), (1...31).contains(d) else { return nil }
        // Days from civil (Howard Hinnant), the inverse of `civilDate`.
        let yy = m <= 2 ? y - 1 : y
        let era = (yy >= 0 ? yy : yy - 399) / 400
        let yoe = yy - era * 400
        let doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        let number = era * 146_097 + doe - 719_468
        return civilDate(daysSinceEpoch: number) == (y, m, d) ? number : nil
    }

    /// The days that have a partition now.
    static func existingDays(on c: PGConnection) throws -> [Int64] {
        let rows = try c.query("""
            SELECT k.relname FROM pg_inherits i JOIN pg_class k ON k.oid = i.inhrelid
            WHERE i.inhparent = 'agents.execution_log'::regclass
            """)
        return rows.rows.compactMap { $0[0].flatMap(day(ofTable:)) }.sorted()
    }

    /// The days `ensure` keeps a partition for at `now`: from the first day retention keeps (the
    /// day of `now - retentionDays`) to a week ahead. Not a day earlier: retention drops every
    /// partition ending at or before that day's midnight, so an earlier one would be created and
    /// dropped again every hour.
    static func window(now: Date, retentionDays: Int) -> ClosedRange<Int64> {
        let today = dayNumber(now)
        // At most `maxDays` partitions: a retention of decades (tests and some deployments set
        // one) must not make tens of thousands of tables; older rows wait in the default
        // partition, whence retention deletes them.
        return max(today - Int64(max(1, retentionDays)), today + 7 - maxDays + 1)...(today + 7)
    }

    /// Creates the partition of one day unless it exists; returns whether it did. Rows of that day
    /// waiting in the default partition move into it, with their ids. Runs inside the caller's
    /// transaction (it holds the default partition exclusively until the commit).
    static func create(day d: Int64, on c: PGConnection) throws -> Bool {
        let name = try tableName(d)
        if try c.query("SELECT to_regclass($1)", [.text("agents." + name)])[0, 0] != nil { return false }
        let lo = try dateLiteral(d)
        let hi = try dateLiteral(d + 1)
        // First the default partition (ATTACH locks it so anyway): no row for this day can arrive
        // there between the move and the attach. The parent gets only SHARE UPDATE EXCLUSIVE from
        // ATTACH, so inserts into other days and the feed's reads go on (CREATE TABLE ... PARTITION
        // OF would lock the parent exclusively).
        try c.execute("LOCK TABLE agents.\(defaultPartition) IN ACCESS EXCLUSIVE MODE")
        try c.execute("CREATE TABLE agents.\(name) (LIKE agents.execution_log INCLUDING DEFAULTS)")
        try c.query("""
            WITH moved AS (
                DELETE FROM agents.\(defaultPartition) WHERE timestamp >= $1::timestamp AND timestamp < $2::timestamp
                RETURNING *)
            INSERT INTO agents.\(name) SELECT * FROM moved
            """, [.text(lo), .text(hi)])
        try c.execute("ALTER TABLE agents.execution_log ATTACH PARTITION agents.\(name) FOR VALUES FROM ('\(lo)') TO ('\(hi)')")
        return true
    }

    /// Creates the missing partitions of `days`, each in its own short transaction; returns how many.
    /// Most day partitions the service keeps ahead of and within the retention window.
    static let maxDays: Int64 = 400

    static func ensure(days: ClosedRange<Int64>, on c: PGConnection) throws -> Int {
        let existing = Set(try existingDays(on: c))
        var created = 0
        for d in days where !existing.contains(d) {
            let made = try c.transaction {
                try c.query("SELECT pg_advisory_xact_lock($1)", [.int(advisoryLockKey)])
                return try create(day: d, on: c)
            }
            if made { created += 1 }
        }
        return created
    }

    /// The days whose partitions retention drops: every day partition whose upper bound is at or
    /// before `cutoffDay`'s midnight.
    static func expiredDays(before cutoffDay: Int64, on c: PGConnection) throws -> [Int64] {
        try existingDays(on: c).filter { $0 + 1 <= cutoffDay }
    }

    /// How long one attempt at detaching a partition waits for its lock.
    static let detachLockWait = "200ms"

    /// Detaches and drops the partition of day `d` in one short transaction; returns its name, or
    /// nil when it did not exist. Throws `StoreError.database` with SQLSTATE 55P03 when the lock
    /// did not come within `detachLockWait`.
    static func drop(day d: Int64, on c: PGConnection) throws -> String? {
        let name = try tableName(d)
        return try c.transaction {
            try c.query("SELECT pg_advisory_xact_lock($1)", [.int(advisoryLockKey)])
            guard try c.query("SELECT to_regclass($1)", [.text("agents." + name)])[0, 0] != nil else { return nil }
            // DETACH locks the parent exclusively (CONCURRENTLY is not allowed beside a default
            // partition), and every query on the table queues behind a waiting DETACH: so it
            // waits only a moment, not behind a long transaction (ingest would stall meanwhile),
            // and the caller tries again shortly.
            try c.execute("SET LOCAL lock_timeout = '\(detachLockWait)'")
            try c.execute("ALTER TABLE agents.execution_log DETACH PARTITION agents.\(name)")
            try c.execute("DROP TABLE agents.\(name)")
            return name
        }
    }
}
