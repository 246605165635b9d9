import Hummingbird

extension Request {
    /// Decodes the JSON body as `type`; a malformed body throws a 400 with a JSON error message
    /// (`{"error": {"message": "…"}}`), never a 500.
    public func decodeJSON<Value: Decodable>(as type: Value.Type, context: some RequestContext) async throws -> Value {
        do {
            return try await decode(as: type, context: context)
        } catch let error as HTTPError {
            throw error
        } catch {
            throw HTTPError(.badRequest, message: "The request body is not valid JSON for \(Value.self): \(error)")
        }
    }
}
