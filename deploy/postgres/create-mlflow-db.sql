-- MLflow's own database next to Temporal's (temporalio/auto-setup creates `temporal` and
-- `temporal_visibility` itself; nothing else creates `mlflow`). The postgres image runs this once,
-- on an empty data volume; scripts/prod-check.sh runs the same file against its own PostgreSQL.
CREATE DATABASE mlflow;
