/// Counts what happens per key, across tasks.
public actor Tally {
    public private(set) var counts: [String: Int] = [:]
    /// Every key added, in the order added.
    public private(set) var order: [String] = []

    public init() {}

    public func add(_ key: String) {
        counts[key, default: 0] += 1
        order.append(key)
    }
    public func count(_ key: String) -> Int { counts[key] ?? 0 }
    public var distinct: Int { counts.count }
    public var total: Int { counts.values.reduce(0, +) }
    public var maximum: Int { counts.values.max() ?? 0 }
}
