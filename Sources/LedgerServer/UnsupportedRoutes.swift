/// The parts of MLflow's REST API that RunLedger leaves out: a client calling one is told what it reached and that it
/// is not supported, rather than a bare "no route". docs/mlflow-routes.md lists every route and its status.
enum UnsupportedRoutes {
    /// Paths below `/api/2.0/mlflow/`, `/api/3.0/mlflow/` (and their `ajax-api` twins) by first segments, with the
    /// MLflow feature they belong to.
    static let features: [(prefix: String, feature: String)] = [
        ("registered-models", "the model registry"), ("model-versions", "the model registry"),
        ("traces", "tracing"), ("unified-traces", "tracing"), ("get-online-trace-details", "tracing"),
        ("datasets", "GenAI evaluation datasets"), ("experiments/search-datasets", "the MLflow UI's dataset search"), ("gateway", "the AI gateway"),
        ("scorers", "scorers"),
        ("label-schemas", "labeling sessions"), ("review-queues", "labeling sessions"), ("issues", "GenAI issues"),
        ("prompt-optimization", "prompt optimization"), ("webhooks", "webhooks"), ("workspaces", "workspaces"),
        ("artifacts/presigned", "presigned artifact URLs (cloud artifact stores)"),
        ("metrics/get-history-bulk-interval", "the MLflow UI's sampled chart histories"),
    ]

    /// `/api/2.0mlflow/` is how MLflow itself registers one route (experiments/search-datasets).
    static let roots = ["/api/2.0/mlflow/", "/api/3.0/mlflow/", "/ajax-api/2.0/mlflow/", "/ajax-api/3.0/mlflow/", "/api/2.0mlflow/"]

    /// The message for an unmatched path of MLflow's API, nil for any other path.
    static func message(method: String, path: String) -> String? {
        let shown = "\(method) \(path.prefix(200))"
        let scope = "RunLedger implements MLflow's tracking API (experiments, runs, metrics, artifacts, logged models); "
        if path == "/graphql" {
            return "\(shown) belongs to the MLflow UI's GraphQL API, which is not supported: \(scope)see docs/mlflow-routes.md."
        }
        if path.hasPrefix("/api/2.0/mlflow-artifacts/presigned/") || path.hasPrefix("/ajax-api/2.0/mlflow-artifacts/presigned/") {
            return "\(shown) belongs to presigned artifact URLs (cloud artifact stores), which is not supported: \(scope)see docs/mlflow-routes.md."
        }
        guard let root = roots.first(where: path.hasPrefix) else { return nil }
        let rest = path.dropFirst(root.count)
        if let match = features.first(where: { rest == $0.prefix || rest.hasPrefix($0.prefix + "/") || rest.hasPrefix($0.prefix + "-") }) {
            return "\(shown) belongs to \(match.feature), which is not supported: \(scope)see docs/mlflow-routes.md."
        }
        return "\(shown) is not a route RunLedger knows: \(scope)see /openapi.json and docs/mlflow-routes.md."
    }
}
