// swift-tools-version:6.1
// Benchmarks live in their own package so that the main build (and CI) never compiles them.
// Run: Benchmarks/archive.sh (builds in release and prints every figure side by side).
import PackageDescription

/// What the store benchmarks (store-benchmark.sh) use: both backends, GRDB for the engine alone, and the shared timing.
let storeBenchmark: [Target.Dependency] = [
    "BenchmarkSupport",
    .product(name: "LedgerCore", package: "RunLedger"),
    .product(name: "LedgerSQLite", package: "RunLedger"),
    .product(name: "LedgerPostgres", package: "RunLedger"),
    .product(name: "GRDB", package: "GRDB.swift"),
]

let package = Package(
    name: "RunLedgerBenchmarks",
    platforms: [.macOS(.v14)],
    dependencies: [
        .package(name: "RunLedger", path: ".."),
        .package(url: "https://github.com/groue/GRDB.swift", exact: "7.10.0"),
        .package(url: "https://github.com/ordo-one/benchmark", exact: "1.38.1", traits: ["MallocInterposer"]),
    ],
    targets: [
        // `swift package benchmark` (package-benchmark): the log call's time and allocations per 1000 calls.
        .executableTarget(
            name: "SDKHotPath",
            dependencies: [
                .product(name: "Benchmark", package: "benchmark"),
                .product(name: "LedgerCore", package: "RunLedger"),
                .product(name: "LedgerSQLite", package: "RunLedger"),
                .product(name: "RunLedger", package: "RunLedger"),
                .product(name: "GRDBSQLite", package: "GRDB.swift"),
            ],
            path: "Benchmarks/SDKHotPath",
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
        ),
        .executableTarget(
            name: "SDKBenchmark",
            dependencies: [
                .product(name: "LedgerCore", package: "RunLedger"),
                .product(name: "LedgerSQLite", package: "RunLedger"),
                .product(name: "RunLedger", package: "RunLedger"),
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "GRDBSQLite", package: "GRDB.swift"),
            ]
        ),
        .target(name: "BenchmarkSupport"),
        .executableTarget(name: "EventsBenchmark", dependencies: storeBenchmark),
        .executableTarget(name: "AggregateBenchmark", dependencies: storeBenchmark),
        .executableTarget(
            name: "BillionBenchmark",
            dependencies: [
                .product(name: "EnergySimulation", package: "RunLedger"),
                .product(name: "LedgerCore", package: "RunLedger"),
                .product(name: "LedgerSQLite", package: "RunLedger"),
                .product(name: "RunLedger", package: "RunLedger"),
            ]
        ),
        .executableTarget(
            name: "ChunkBenchmark",
            dependencies: [
                .product(name: "LedgerCore", package: "RunLedger"),
                .product(name: "GRDB", package: "GRDB.swift"),
            ]
        ),
        .executableTarget(
            name: "ArchiveBenchmark",
            dependencies: [
                .product(name: "LedgerCore", package: "RunLedger"),
                .product(name: "LedgerPostgres", package: "RunLedger"),
                .product(name: "LedgerSQLite", package: "RunLedger"),
                .product(name: "GRDB", package: "GRDB.swift"),
            ]
        ),
    ]
)
