import Hummingbird

/// A request value the service refuses, answered with its status (400 unless said otherwise) and the samples' one
/// JSON error shape, naming the field: `{"error": {"message": "pageIndex must be 0...1000000", "field": "pageIndex"}}`.
/// The shape is Hummingbird's `HTTPError` body plus `field`, so clients read every error the same way.
public struct InvalidField: HTTPResponseError, CustomStringConvertible {
    /// The field as the client wrote it: a query parameter, a path parameter, or a JSON path such as `items[2].quantity`
    /// (`body` for the body as a whole).
    public var field: String
    /// What is wrong and what is allowed, without echoing the value (it may be huge or hostile).
    public var message: String
    /// 400 by default; 413 for a body over the size limit.
    public var status: HTTPResponse.Status

    /// Creates the error.
    public init(_ field: String, _ message: String, status: HTTPResponse.Status = .badRequest) {
        self.field = field
        self.message = message
        self.status = status
    }

    public var description: String { "invalid \(field): \(message)" }

    private struct Body: Encodable {
        struct Problem: Encodable {
            var message: String
            var field: String
        }
        var error: Problem
    }

    public func response(from request: Request, context: some RequestContext) throws -> Response {
        var response = try context.responseEncoder.encode(Body(error: .init(message: message, field: field)), from: request, context: context)
        response.status = status
        return response
    }
}
