extension KeyedDecodingContainer {
    /// Decodes the value at `key` like `decode(_:forKey:)`, but a number that does not fit `T` (Foundation reports
    /// `1e30` for an `Int` as "not valid JSON", with no coding path) becomes a `dataCorrupted` error whose coding
    /// path ends in `key`, so the 400 can name the field.
    public func decodeField<T: Decodable>(_ type: T.Type, forKey key: Key) throws -> T {
        do {
            return try decode(type, forKey: key)
        } catch let error as DecodingError {
            throw error
        } catch {
            throw DecodingError.dataCorrupted(.init(codingPath: codingPath + [key], debugDescription: "not a \(T.self)", underlyingError: error))
        }
    }

    /// ``decodeField(_:forKey:)`` for an optional field: `nil` when absent or null.
    public func decodeFieldIfPresent<T: Decodable>(_ type: T.Type, forKey key: Key) throws -> T? {
        guard contains(key), try !decodeNil(forKey: key) else { return nil }
        return try decodeField(type, forKey: key)
    }
}
