"""Logged models and run inputs through the official client, against RunLedger and a real `mlflow server`:
`mlflow.pyfunc` and `mlflow.sklearn` models logged and loaded back (by run path and by model id), the logged-model
routes (get, search, tags, params, delete), the run's outputs, and a dataset input."""
import uuid

import numpy
import pytest
from mlflow.exceptions import MlflowException


def unique(prefix):
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def test_pyfunc_and_sklearn_models_round_trip(tracking):
    import mlflow
    import sklearn.linear_model

    class Surrogate(mlflow.pyfunc.PythonModel):
        def predict(self, context, model_input, params=None):
            return model_input * 2 + 1

    mlflow.set_experiment(unique("models"))
    features = numpy.array([[0.0], [1.0], [2.0]])
    with mlflow.start_run() as run:
        pyfunc = mlflow.pyfunc.log_model(name="surrogate", python_model=Surrogate())
        linear = mlflow.sklearn.log_model(sklearn.linear_model.LinearRegression().fit(features, [1.0, 3.0, 5.0]), name="linear")
    run_id = run.info.run_id
    by_run = mlflow.pyfunc.load_model(f"runs:/{run_id}/surrogate")
    assert list(by_run.predict(numpy.array([1.0, 2.0]))) == [3.0, 5.0]
    by_id = mlflow.sklearn.load_model(f"models:/{linear.model_id}")
    assert by_id.predict([[3.0]])[0] == pytest.approx(7.0)
    outputs = tracking.get_run(run_id).outputs.model_outputs
    assert {o.model_id for o in outputs} == {pyfunc.model_id, linear.model_id}
    model = tracking.get_logged_model(linear.model_id)
    assert model.status == "READY" and model.source_run_id == run_id and model.name == "linear"
    assert model.artifact_location.startswith("mlflow-artifacts:/") and model.artifact_location.endswith(f"/models/{linear.model_id}/artifacts")
    files = {f.path for f in tracking.list_logged_model_artifacts(linear.model_id)}
    assert "MLmodel" in files


def test_logged_model_routes_tag_search_and_delete(tracking):
    experiment_id = tracking.create_experiment(unique("registry"))
    run_id = tracking.create_run(experiment_id).info.run_id
    first = tracking.create_logged_model(experiment_id, name="alpha", source_run_id=run_id, params={"depth": "3"}, tags={"team": "grid"})
    second = tracking.create_logged_model(experiment_id, name="beta", model_type="surrogate")
    assert first.status == "PENDING" and first.params == {"depth": "3"} and first.tags["team"] == "grid"
    tracking.set_logged_model_tags(second.model_id, {"stage": "candidate"})
    tracking.delete_logged_model_tag(first.model_id, "team")
    assert "team" not in tracking.get_logged_model(first.model_id).tags
    tracking.finalize_logged_model(first.model_id, "READY")
    assert [m.model_id for m in tracking.search_logged_models([experiment_id], filter_string="name = 'alpha'")] == [first.model_id]
    assert [m.model_id for m in tracking.search_logged_models([experiment_id], filter_string="tags.stage = 'candidate'")] == [second.model_id]
    newest_first = [m.model_id for m in tracking.search_logged_models([experiment_id])]
    assert set(newest_first) == {first.model_id, second.model_id}
    tracking.delete_logged_model(second.model_id)
    assert [m.model_id for m in tracking.search_logged_models([experiment_id])] == [first.model_id]
    with pytest.raises(MlflowException) as excinfo:
        tracking.get_logged_model(second.model_id)
    assert excinfo.value.error_code == "RESOURCE_DOES_NOT_EXIST"
    with pytest.raises(MlflowException) as excinfo:
        tracking.get_logged_model("m-" + "0" * 32)
    assert excinfo.value.error_code == "RESOURCE_DOES_NOT_EXIST"


def test_a_dataset_input_is_recorded_on_the_run(tracking):
    import mlflow
    import pandas
    mlflow.set_experiment(unique("inputs"))
    frame = pandas.DataFrame({"hour": [0, 1, 2], "load_kw": [310.0, 295.5, 288.0]})
    dataset = mlflow.data.from_pandas(frame, name="load-profile")
    with mlflow.start_run() as run:
        mlflow.log_input(dataset, context="training")
        mlflow.log_input(dataset, context="training")
    inputs = tracking.get_run(run.info.run_id).inputs.dataset_inputs
    assert len(inputs) == 1
    assert inputs[0].dataset.name == "load-profile" and inputs[0].dataset.digest == dataset.digest
    assert {t.key: t.value for t in inputs[0].tags}["mlflow.data.context"] == "training"
