public import LedgerCore
public import ServiceLifecycle

/// A store's lifetime as a `Service`: its background work (a connection pool, SQLite's checkpointer) runs until the
/// group shuts down, then the store closes. In a group it goes first, so that it stops last, after every request.
public struct StoreService: Service {
    let store: any TrackingStore

    public init(store: any TrackingStore) { self.store = store }

    public func run() async throws {
        try? await cancelWhenGracefulShutdown {
            try await store.run()
            // A store with no background work still lives until the group stops.
            try await gracefulShutdown()
        }
        try await store.close()
    }
}

/// Runs `prepare` (a schema migration, which needs the store's service running) and then `services` side by side:
/// a server listens, and its reaper and pruner start, only once the store is ready; a failed preparation stops the
/// group with its error.
public struct PreparedServices: Service {
    let prepare: @Sendable () async throws -> Void
    let services: [any Service]

    public init(_ services: [any Service], after prepare: @escaping @Sendable () async throws -> Void) {
        self.prepare = prepare
        self.services = services
    }

    public func run() async throws {
        try await prepare()
        try await withThrowingDiscardingTaskGroup { group in
            for service in services { group.addTask { try await service.run() } }
        }
    }
}
