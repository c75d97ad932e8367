// swift-tools-version:6.1
import PackageDescription

let swiftSettings: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("InternalImportsByDefault"),
]

let package = Package(
    name: "RunLedger",
    platforms: [.macOS(.v15)],
    products: [
        .library(name: "LedgerCore", targets: ["LedgerCore"]),
        .library(name: "LedgerSQLite", targets: ["LedgerSQLite"]),
        .library(name: "LedgerPostgres", targets: ["LedgerPostgres"]),
        .library(name: "LedgerRemote", targets: ["LedgerRemote"]),
        .library(name: "LedgerConnect", targets: ["LedgerConnect"]),
        .library(name: "RunLedger", targets: ["RunLedger"]),
        .library(name: "LedgerServer", targets: ["LedgerServer"]),
        .library(name: "LedgerExport", targets: ["LedgerExport"]),
        .library(name: "LedgerArtifacts", targets: ["LedgerArtifacts"]),
        .library(name: "EnergySimulation", targets: ["EnergySimulation"]),
        .executable(name: "runledger", targets: ["runledger"]),
        .executable(name: "energy-study", targets: ["energy-study"]),
    ],
    dependencies: [
        .package(url: "https://github.com/groue/GRDB.swift", exact: "7.10.0"),
        .package(url: "https://github.com/apple/swift-argument-parser", exact: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log", exact: "1.16.2"),
        .package(url: "https://github.com/apple/swift-metrics", exact: "2.13.0"),
        .package(url: "https://github.com/vapor/postgres-nio", exact: "1.33.2"),
        .package(url: "https://github.com/apple/swift-nio-ssl", exact: "2.37.6"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", exact: "2.28.1"),
        .package(url: "https://github.com/apple/swift-http-types", from: "1.0.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", exact: "2.4.1"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", exact: "2.13.0"),
        .package(url: "https://github.com/swift-server/async-http-client", exact: "1.37.0"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.80.0"),
        .package(url: "https://github.com/weichsel/ZIPFoundation", exact: "0.9.20"),
    ],
    targets: [
        // Domain values, query language, store protocol, migration planning. Foundation only, no I/O.
        .target(name: "LedgerCore", swiftSettings: swiftSettings),
        // The embedded backend: GRDB on a local SQLite file, with its migration resources.
        .target(
            name: "LedgerSQLite",
            dependencies: [
                "LedgerCore",
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "GRDBSQLite", package: "GRDB.swift"),
                .product(name: "Logging", package: "swift-log"),
            ],
            resources: [.copy("Resources/migrations")],
            swiftSettings: swiftSettings
        ),
        // The server backend: PostgresNIO's pooled client, with its migration resources.
        .target(
            name: "LedgerPostgres",
            dependencies: [
                "LedgerCore",
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
            ],
            resources: [.copy("Resources/migrations")],
            swiftSettings: swiftSettings
        ),
        // A store on a RunLedger server, over HTTP (AsyncHTTPClient).
        .target(
            name: "LedgerRemote",
            dependencies: [
                "LedgerCore", "LedgerArtifacts",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        // libFuzzer targets for the parsers of untrusted bytes (scripts/fuzz); built plainly, a replayer of inputs.
        .executableTarget(name: "runledger-fuzz", dependencies: ["LedgerCore", "LedgerExport", "RunLedger"], swiftSettings: swiftSettings),
        // The only place that turns a `--database` value into a concrete store.
        .target(
            name: "LedgerConnect",
            dependencies: ["LedgerCore", "LedgerSQLite", "LedgerPostgres", "LedgerRemote", .product(name: "Logging", package: "swift-log")],
            swiftSettings: swiftSettings
        ),
        // The SDK a simulation imports: run handles, the batching writer, the durable spool and its replay.
        .target(
            name: "RunLedger",
            dependencies: [
                "LedgerCore", "LedgerNative", "LedgerArtifacts", .product(name: "_NIOFileSystem", package: "swift-nio"),
                .product(name: "NIOCore", package: "swift-nio"), .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"), .product(name: "CoreMetrics", package: "swift-metrics"),
            ],
            swiftSettings: swiftSettings
        ),
        // The SDK's few C functions: the spool's checksum on the CPU's crc32 instruction, giving freed memory back.
        .target(name: "LedgerNative"),
        // Runs as tables: CSV and XLSX (Office Open XML, zipped by ZIPFoundation) for the CLI and the server.
        .target(
            name: "LedgerExport",
            dependencies: ["LedgerCore", .product(name: "ZIPFoundation", package: "ZIPFoundation")],
            swiftSettings: swiftSettings
        ),
        // Artifact files: the store protocol and its file-system implementation (NIO's file system, off the caller's threads).
        .target(
            name: "LedgerArtifacts",
            dependencies: [
                "LedgerCore",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "_NIOFileSystem", package: "swift-nio"),
            ],
            swiftSettings: swiftSettings
        ),
        // The HTTP server: MLflow's REST API, operations routes, auth. Sees only the TrackingStore and ArtifactStore protocols.
        .target(
            name: "LedgerServer",
            dependencies: [
                "LedgerCore",
                "LedgerExport",
                "LedgerArtifacts",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdCore", package: "hummingbird"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
            ],
            resources: [.copy("Resources/dashboard")],
            swiftSettings: swiftSettings
        ),
        // The energy-system model behind `runledger demo` and the examples: pure computation.
        .target(name: "EnergySimulation", swiftSettings: swiftSettings),
        .executableTarget(
            name: "runledger",
            dependencies: [
                "LedgerCore",
                "LedgerConnect",
                "RunLedger",
                "LedgerServer",
                "LedgerExport",
                "LedgerArtifacts",
                "LedgerRemote",
                "EnergySimulation",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
        // An example to copy: a design study that logs through the SDK only.
        .executableTarget(
            name: "energy-study",
            dependencies: [
                "LedgerConnect", "RunLedger", "EnergySimulation", .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            path: "Examples/energy-study",
            swiftSettings: swiftSettings
        ),
        // Helpers the test targets share (child processes awaited without holding a thread); not a product.
        .target(name: "TestSupport", path: "Tests/TestSupport", swiftSettings: swiftSettings),
        .testTarget(name: "LedgerCoreTests", dependencies: ["LedgerCore", "EnergySimulation"], swiftSettings: swiftSettings),
        .testTarget(
            name: "LedgerStoreTests",
            dependencies: [
                "LedgerCore", "LedgerSQLite", "LedgerPostgres", "LedgerConnect", "LedgerRemote", "LedgerServer", "EnergySimulation", "TestSupport",
                .product(name: "GRDB", package: "GRDB.swift"), .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "Logging", package: "swift-log"), .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Prometheus", package: "swift-prometheus"), .product(name: "NIOHTTP1", package: "swift-nio"),
            ],
            exclude: ["Fixtures"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "RunLedgerTests",
            dependencies: [
                "RunLedger", "LedgerCore", "LedgerSQLite", "LedgerPostgres", "LedgerArtifacts", "energy-study", "TestSupport",
                .product(name: "GRDB", package: "GRDB.swift"), .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "GRDBSQLite", package: "GRDB.swift"), .product(name: "MetricsTestKit", package: "swift-metrics"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "LedgerServerTests",
            dependencies: [
                "LedgerServer", "LedgerArtifacts", "LedgerCore", "LedgerSQLite", "LedgerExport", "EnergySimulation", "TestSupport",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdTesting", package: "hummingbird"), .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "RunLedgerCLITests",
            dependencies: [
                "runledger", "energy-study", "LedgerCore", "LedgerSQLite", "LedgerExport", "EnergySimulation", "TestSupport",
                .product(name: "ZIPFoundation", package: "ZIPFoundation"),
            ],
            swiftSettings: swiftSettings
        ),
    ]
)
