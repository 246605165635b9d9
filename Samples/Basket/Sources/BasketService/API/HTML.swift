import Hummingbird

/// An HTML response body.
public struct HTML: ResponseGenerator, Sendable {
    /// The page.
    public var text: String

    /// Wraps `text`.
    public init(_ text: String) {
        self.text = text
    }

    public func response(from request: Request, context: some RequestContext) throws -> Response {
        Response(
            status: .ok, headers: [.contentType: "text/html; charset=utf-8"],
            body: .init(byteBuffer: ByteBuffer(string: text)))
    }
}
