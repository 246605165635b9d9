import AMQP
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
            #expect("\(error)".contains("notaport"))
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
