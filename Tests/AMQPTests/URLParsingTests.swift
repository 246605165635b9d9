import AMQP
import Foundation
import Testing

@Suite struct URLParsingTests {
    @Test func parsesUserPasswordHostPortAndVhost() throws {
        let configuration = try AMQPConnectionConfiguration(url: "amqp://basket:s%40cret@rabbit.local:5673/shop%2Feu?heartbeat=15&frame_max=65536&connection_timeout=2500&connection_name=basket-1")
        #expect(configuration.user == "basket")
        #expect(configuration.password == "s@cret")
        #expect(configuration.endpoints == [.init(host: "rabbit.local", port: 5673)])
        #expect(configuration.virtualHost == "shop/eu")
        #expect(configuration.heartbeatSeconds == 15)
        #expect(configuration.frameMax == 65_536)
        #expect(configuration.connectionTimeout == .milliseconds(2_500))
        #expect(configuration.connectionName == "basket-1")
        #expect(configuration.tls == nil)
    }

    @Test func defaultsFollowTheRabbitMQURISpec() throws {
        let plain = try AMQPConnectionConfiguration(url: "amqp://localhost")
        #expect(plain.endpoints == [.init(host: "localhost", port: 5672)])
        #expect(plain.user == "guest" && plain.password == "guest" && plain.virtualHost == "/")
        let rootVhost = try AMQPConnectionConfiguration(url: "amqp://h/%2F")
        #expect(rootVhost.virtualHost == "/")
        let secure = try AMQPConnectionConfiguration(url: "amqps://h")
        #expect(secure.endpoints[0].port == 5671)
        #expect(secure.tls?.verifyPeer == true && secure.tls?.verifyHostname == true)
    }

    @Test func parsesSeveralHostsForFailover() throws {
        let configuration = try AMQPConnectionConfiguration(url: "amqp://u:p@node1:5672,node2,[::1]:5674/")
        #expect(configuration.endpoints == [
            .init(host: "node1", port: 5672), .init(host: "node2", port: 5672), .init(host: "::1", port: 5674),
        ])
    }

    @Test func parsesTLSOptions() throws {
        let configuration = try AMQPConnectionConfiguration(url: "amqps://h:5671/?cacertfile=/ca.pem&certfile=/c.pem&keyfile=/k.pem&verify_hostname=false")
        #expect(configuration.tls == .init(caFile: "/ca.pem", certificateFile: "/c.pem", keyFile: "/k.pem", verifyPeer: true, verifyHostname: false))
    }

    @Test func passwordNeverAppearsInDescriptionsOrErrors() throws {
        let configuration = try AMQPConnectionConfiguration(url: "amqp://admin:hunter2@h:5672/v")
        #expect(!configuration.description.contains("hunter2"))
        #expect(configuration.description == "amqp://admin:***@h:5672/v")
        do {
            _ = try AMQPConnectionConfiguration(url: "amqp://admin:hunter2@h:notaport/")
            Issue.record("a bad port must be rejected")
        } catch {
            #expect(!"\(error)".contains("hunter2"))
            #expect("\(error)".contains("port"))
        }
    }

    /// The pieces of ``hostilePassword``: none may appear in a description or an error.
    static let passwordPieces = ["Pw1", "Pw2", "Pw3", "Pw4", "Pw5", "Pw6", "Pw7"]
    /// A password with every character that ends a URL part: `/ ? # @ : %` and a backtick.
    static let hostilePassword = "Pw1/Pw2?Pw3#Pw4@Pw5:Pw6%`Pw7"

    static func percentEncoded(_ text: String) -> String {
        text.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? ""
    }

    static func leakedPieces(_ text: String) -> [String] { passwordPieces.filter { text.contains($0) } }

    @Test func passwordWithRawSlashQuestionMarkAndAtParsesAsAPassword() throws {
        // Everything up to the last `@` is credentials: the raw `/` and `?` start neither the vhost nor the query.
        let configuration = try AMQPConnectionConfiguration(url: "amqp://admin:Pw1/Pw2?Pw3#Pw4@Pw5:Pw6@h:5673/v?heartbeat=7")
        #expect(configuration.user == "admin")
        #expect(configuration.password == "Pw1/Pw2?Pw3#Pw4@Pw5:Pw6")
        #expect(configuration.endpoints == [.init(host: "h", port: 5673)])
        #expect(configuration.virtualHost == "v")
        #expect(configuration.heartbeatSeconds == 7)
        #expect(Self.leakedPieces(configuration.description).isEmpty, "\(configuration.description)")
        let encoded = try AMQPConnectionConfiguration(url: "amqp://admin:\(Self.percentEncoded(Self.hostilePassword))@h/")
        #expect(encoded.password == Self.hostilePassword)
        #expect(Self.leakedPieces(encoded.description).isEmpty, "\(encoded.description)")
    }

    @Test(arguments: [
        // Raw: the `%` followed by a backtick is bad percent-encoding.
        "amqp://admin:\(hostilePassword)@h:5672/",
        "amqps://admin:\(hostilePassword)@h:5672/?bogus=1",
        "amqp://admin:\(hostilePassword)@h:notaport/",
        // Percent-encoded, with another fault after it.
        "amqp://admin:\(percentEncoded(hostilePassword))@h:0/",
        "amqp://admin:\(percentEncoded(hostilePassword))@h/?heartbeat=-1",
        "amqp://admin:\(percentEncoded(hostilePassword))@[::1/",
        // No host: a mistyped `user:password` reads as `host:port`.
        "amqp://admin:Pw1Pw2Pw3/Pw4?Pw5",
        "amqp://admin:Pw1Pw2Pw3",
        "http://admin:\(hostilePassword)@h/",
        "admin:\(hostilePassword)@h",
    ])
    func malformedURLErrorsNeverQuoteThePassword(url: String) {
        do {
            _ = try AMQPConnectionConfiguration(url: url)
            Issue.record("\(url) must be rejected")
        } catch {
            guard case .invalidURL(let masked, let reason) = error else {
                Issue.record("expected invalidURL, got \(error)")
                return
            }
            #expect(Self.leakedPieces("\(error)").isEmpty, "\(error)")
            #expect(Self.leakedPieces(masked + reason).isEmpty, "\(masked) \(reason)")
        }
    }

    @Test(arguments: [
        "http://h/", "amqp://h:0/", "amqp://h:70000/", "amqp://h/?heartbeat=-1", "amqp://h/?bogus=1",
        "amqp://h/?cacertfile=/x", "amqp://h/%zz", "amqp://h/?frame_max=10",
    ])
    func rejectsMalformedURLs(url: String) {
        #expect(throws: AMQPError.self) { try AMQPConnectionConfiguration(url: url) }
    }
}
