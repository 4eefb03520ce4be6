// The first-in first-out queue the ingest path keeps twice: the writer's queue of waiting callers
// and the change feed's list of committed batches (OwnWrites).

/// A first-in first-out queue over an array. Taking the first element releases it at once and
/// moves a head index; the array is emptied whenever the queue is, and compacted once
/// `compactAfter` taken slots pile up in front of it, so both ends cost O(1) amortised.
struct FIFOQueue<Element> {
    private var slots: [Element?] = []
    private var head = 0
    private let compactAfter: Int

    init(compactAfter: Int = 1024) {
        self.compactAfter = compactAfter
    }

    var isEmpty: Bool { head == slots.count }

    /// The oldest element, or nil when empty.
    var first: Element? { isEmpty ? nil : slots[head] }

    mutating func append(_ element: Element) {
        slots.append(element)
    }

    /// Takes the oldest element (nil when empty).
    mutating func popFirst() -> Element? {
        guard head < slots.count else { return nil }
        let element = slots[head]
        slots[head] = nil
        head += 1
        if head == slots.count {
            slots.removeAll(keepingCapacity: true)
            head = 0
        } else if head > compactAfter {
            slots.removeFirst(head)
            head = 0
        }
        return element
    }

    /// Takes every element, oldest first.
    mutating func removeAll() -> [Element] {
        let rest = slots[head...].compactMap { $0 }
        slots.removeAll()
        head = 0
        return rest
    }
}
