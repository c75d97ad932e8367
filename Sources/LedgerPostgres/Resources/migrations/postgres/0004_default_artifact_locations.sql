-- Every experiment stores its artifacts on the server (`mlflow-artifacts:/<experiment_id>`), as with MLflow's
-- `--serve-artifacts`. The Default experiment was created with an empty location, which an MLflow client resolves to
-- its own working folder: it would write artifacts there, beside the script, instead of to the server. Runs that took
-- the empty location get the URI their experiment now gives new runs.
UPDATE experiments SET artifact_location = 'mlflow-artifacts:/' || experiment_id WHERE artifact_location = '';
UPDATE runs SET artifact_uri = 'mlflow-artifacts:/' || experiment_id || '/' || run_uuid || '/artifacts' WHERE artifact_uri = '';
