import Logging

/// Logging for the sample executables: one line per event on standard output, at the configured level.
public enum SampleLogging {
    /// Bootstraps swift-log to standard output. Call once, first thing in `main`.
    public static func bootstrap(level: Logger.Level) {
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardOutput(label: label)
            handler.logLevel = level
            return handler
        }
    }

    /// A logger for a service at `level`.
    public static func logger(_ label: String, level: Logger.Level) -> Logger {
        var logger = Logger(label: label)
        logger.logLevel = level
        return logger
    }
}
