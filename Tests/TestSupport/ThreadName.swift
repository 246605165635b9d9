import Foundation

/// The name the system keeps for the thread this runs on (Linux's `comm`, `""` if unreadable); AMQP connection
/// threads are named `amqp-` and the start of the connection name. A synchronous function, so async code may ask.
public func currentThreadName() -> String {
    let name = (try? String(contentsOfFile: "/proc/thread-self/comm", encoding: .utf8)) ?? ""
    return name.trimmingCharacters(in: .newlines)
}
