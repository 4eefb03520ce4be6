// PostgreSQL's error codes onto the repository's `StoreError`.
public import LearningRepository

extension StoreError {
    /// Maps a SQLSTATE and the server's message onto a case. `23505` is ``alreadyExists``, class `08` and server shutdown (`57P01`..`57P03`)
    /// are ``unavailable``, `40001`/`40P01` are ``retryable``, class `22` (and not-null/check
    /// violations) are ``invalidInput``.
    public init(sqlState: String, message: String) {
        switch sqlState {
        case "23505": self = .alreadyExists(message)
        case "40001", "40P01": self = .retryable(message)
        case "57P01", "57P02", "57P03": self = .unavailable(message)
        case "23502", "23514": self = .invalidInput(message)
        default:
            if sqlState.hasPrefix("08") || sqlState.hasPrefix("53") {
                self = .unavailable(message)
            } else if sqlState.hasPrefix("22") {
                self = .invalidInput(message)
            } else {
                self = .database(sqlState: sqlState, message: message)
            }
        }
    }
}
