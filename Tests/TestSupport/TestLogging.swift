import Logging

/// Loggers for code under test: silent unless `EVENTBUS_TEST_LOG=1`, then debug level on standard error.
public enum TestLogging {
    public static func logger(_ label: String) -> Logger {
        var logger = Logger(label: label, factory: { label -> any LogHandler in
            if TestEnvironment.environment["EVENTBUS_TEST_LOG"] == "1" { return StreamLogHandler.standardError(label: label) }
            return SwiftLogNoOpLogHandler()
        })
        logger.logLevel = .debug
        return logger
    }
}
