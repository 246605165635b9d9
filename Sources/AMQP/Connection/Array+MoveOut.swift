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
}
