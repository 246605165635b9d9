/// Why ``EventCodec`` refused a body before reading it.
public enum EventCodecError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The body is larger than the codec's ``EventCodec/maxBodySize``; nothing of it was parsed.
    case bodyTooLarge(size: Int, limit: Int)

    public var description: String {
        switch self {
        case .bodyTooLarge(let size, let limit):
            return "the body is \(size) bytes; the limit is \(limit) bytes (raise the maximum event size to accept it)"
        }
    }
}
