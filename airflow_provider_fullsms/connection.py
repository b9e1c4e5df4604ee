"""
What the provider reads from an Airflow connection of type ``fullsms``, read in one place.

Light on purpose: operators, sensors and notifiers import it while a DAG file is parsed.
"""

from __future__ import annotations

#: The connection every class of this provider uses unless told otherwise.
DEFAULT_CONN_ID = "fullsms_default"
