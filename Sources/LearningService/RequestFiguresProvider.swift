/// The transport's request-figures closure as `LearningService.requestFigures` holds it: wrapped in
/// a struct, never as a bare function value in the `Mutex`.
///
/// A bare closure in `Mutex<(@Sendable () -> RequestFigures)?>` is mutated by every read:
/// `withLock` hands the value to its body as a generic `inout`, so the closure literal `{ $0 }`
/// reabstracts it on the way in and writes it back reabstracted on the way out - two more
/// reabstraction thunks around the stored closure per `status()` / `metrics()`, never collapsed
/// (swiftlang/swift#91348). After some 10,000 reads, calling the closure recursed through that many
/// thunks and overflowed the stack: the SIGSEGV of bench/volume.sh under 16 readers of /status or
/// /metrics. A struct's stored closure keeps the struct's own representation, so reads leave it as
/// it was.
struct RequestFiguresProvider: Sendable {
    let figures: @Sendable () -> RequestFigures
}
