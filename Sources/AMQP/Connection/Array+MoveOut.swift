extension Array {
    /// Moves the element at `index` out, leaving `nil` in its place: unlike `self[index]` followed by an
    /// assignment, this copies nothing (no retain of the fields of a large value such as a publish).
    mutating func moveOut<Wrapped>(at index: Int) -> Wrapped? where Element == Wrapped? {
        withUnsafeMutableBufferPointer { elements in
            let slot = elements.baseAddress! + index
            let element = slot.move()
            slot.initialize(to: nil)
            return element
        }
    }

    /// For an array used as a queue whose consumed front ends at `head`: drops the consumed elements once they are
    /// all of it, or at least 1 024 and half of it (so dropping stays amortised O(1)), and moves `head` back to 0.
    mutating func dropConsumed(before head: inout Int) {
        if head == count {
            removeAll(keepingCapacity: true)
            head = 0
        } else if head >= 1_024, head * 2 >= count {
            removeFirst(head)
            head = 0
        }
    }
}
