# Sourced by the benchmarks that run MLflow's server beside RunLedger: a release build of runledger, and MLflow from
# PyPI (with psycopg2-binary for PostgreSQL) in .build/bench-venv; prints the versions compared. Sets $venv.
swift build -c release --product runledger >/dev/null
venv=.build/bench-venv
if ! "$venv/bin/python" -c "import mlflow, psycopg2" >/dev/null 2>&1; then
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check mlflow psycopg2-binary
fi
echo "MLflow $("$venv/bin/python" -c 'import mlflow; print(mlflow.__version__)'), $(nproc) cores"
