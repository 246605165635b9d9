import ArgumentParser

/// `eventbus subscriptions list|show`: the webhook gateway's subscriptions and their queues. The gateway is a package
/// of its own (its HTTP stack stays out of the library's dependencies), so this runs `eventbus-gateway subscriptions`
/// with the arguments given.
struct Subscriptions: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "List and show the webhook gateway's subscriptions and their queues (runs `eventbus-gateway subscriptions`).",
        discussion: """
            `eventbus subscriptions list --sqlite gateway.sqlite` or `--config gateway.json` or `--postgres URL`; \
            `eventbus subscriptions show NAME ...`; `eventbus subscriptions --help` shows every option. Looks for \
            eventbus-gateway next to this executable, then on the PATH.
            """)

    @Argument(parsing: .captureForPassthrough, help: "list|show and their options (--config, --sqlite, --postgres, --url…).")
    var arguments: [String] = []

    static let gateway = CompanionExecutable(
        name: "eventbus-gateway",
        buildHint: "build it with `cd Gateway && swift build --product eventbus-gateway` (make gateway-demo builds it)")

    func run() throws {
        try CompanionExecutable.exec(try Self.gateway.path(), ["subscriptions"] + arguments)
    }
}
