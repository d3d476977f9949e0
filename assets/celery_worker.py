"""The Celery app a Crossdock pull worker runs: `celery -A assets.celery_worker worker -Q <queue>`.

Dagster's own task (`dagster_celery.tasks`) on an app configured from Crossdock's settings, so a
worker needs the same environment as the code location (`CROSSDOCK_DATABASE_URL`, `DAGSTER_HOME`,
the broker and queue settings) and nothing written to disk; `dagster-celery worker start -y` would
write the broker URL, password included, into a file under DAGSTER_HOME.
"""

from __future__ import annotations

from dagster_celery.make_app import make_app
from dagster_celery.tasks import create_task

from assets.executor import celery_app_args

app = make_app(celery_app_args())
execute_plan = create_task(app)
