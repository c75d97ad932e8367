// What the store benchmarks share: their command-line options and how they time a call.
import Foundation

/// The value after `name` on the command line, if any.
public func option(_ name: String) -> String? {
    guard let index = CommandLine.arguments.firstIndex(of: name), index + 1 < CommandLine.arguments.count else { return nil }
    return CommandLine.arguments[index + 1]
}

/// How long `body` took, in seconds.
public func seconds(_ body: () async throws -> Void) async rethrows -> Double {
    let start = ContinuousClock.now
    try await body()
    let elapsed = ContinuousClock.now - start
    return Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
}

/// The median of `repetitions` timed calls (milliseconds), after one untimed call that warms caches.
public func p50(_ repetitions: Int, _ body: () async throws -> Void) async rethrows -> Double {
    try await body()
    var samples: [Double] = []
    for _ in 0..<repetitions { samples.append(try await seconds(body) * 1000) }
    return samples.sorted()[samples.count / 2]
}
