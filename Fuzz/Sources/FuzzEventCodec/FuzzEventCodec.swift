@testable import EventBus
import Foundation

// Fuzzes the event codec (its fast JSON reader, the JSONDecoder path, bodyID) and EventDate on arbitrary bytes.
// A trap is a finding; so is the fast reader returning a value that JSONDecoder, with the codec's rules, does not.

struct Inner: Codable, Equatable {
    var name: String
    var values: [Int]
}

/// An event body with every kind of value the fast reader reads itself.
struct Body: Codable, Equatable {
    var id: UUID
    var creationDate: Date
    var seconds: Date?
    var name: String
    var count: Int
    var big: Int64?
    var small: UInt8?
    var price: Decimal
    var ratio: Double
    var flag: Bool
    var tags: [String]
    var scores: [String: Int]?
    var inner: [Inner]?
}

/// JSONDecoder with the codec's date rule.
let reference: JSONDecoder = {
    let decoder = JSONDecoder()
    decoder.dateDecodingStrategy = .custom { decoder in
        let container = try decoder.singleValueContainer()
        if let seconds = try? container.decode(Double.self) {
            let date = Date(timeIntervalSince1970: seconds)
            guard EventDate.isInRange(date) else { throw DecodingError.dataCorruptedError(in: container, debugDescription: "range") }
            return date
        }
        guard let date = EventDate.parse(try container.decode(String.self)) else {
            throw DecodingError.dataCorruptedError(in: container, debugDescription: "not a date")
        }
        return date
    }
    return decoder
}()

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzEventCodec(_ start: UnsafePointer<UInt8>?, _ count: Int) -> CInt {
    let data = start.map { Data(bytes: $0, count: count) } ?? Data()
    let codec = EventCodec()
    _ = try? codec.decode(Body.self, from: data)
    _ = codec.bodyID(data)
    if !JSONKeyCase.mayHaveUppercaseKey(data), let fast = try? EventJSONReader.decode(Body.self, from: data) {
        guard let expected = try? reference.decode(Body.self, from: data), expected == fast else {
            fatalError("the fast reader read a value JSONDecoder does not: \(String(decoding: data, as: UTF8.self))")
        }
    }
    // Dates: the text as a date, and the first eight bytes as any Double of seconds.
    if let date = EventDate.parse(String(decoding: data.prefix(64), as: UTF8.self)) {
        guard EventDate.isInRange(date), EventDate.parse(EventDate.format(date)) != nil else { fatalError("date did not come back") }
    }
    if count >= 8, let start {
        let seconds = UnsafeRawPointer(start).loadUnaligned(as: Double.self)
        guard EventDate.format(Date(timeIntervalSince1970: seconds)).utf8.count == 28 else { fatalError("format of \(seconds)") }
    }
    return 0
}

// SwiftPM links an executable with `main` bound to `FuzzEventCodec_main` (so that tests can load it); here that is libFuzzer's
// driver, running the target's `LLVMFuzzerTestOneInput`.

@_silgen_name("LLVMFuzzerRunDriver")
func runFuzzerDriver(
    _ argc: UnsafeMutablePointer<CInt>, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>,
    _ test: @convention(c) (UnsafePointer<UInt8>?, Int) -> CInt
) -> CInt

@_cdecl("FuzzEventCodec_main")
public func main(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    var (count, values) = (argc, argv)
    return runFuzzerDriver(&count, &values, fuzzEventCodec)
}
