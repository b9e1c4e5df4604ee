"""
The provider's Airflow plugin: the **FullSMS** page of the Airflow UI.

:mod:`~.fullsms_ui` holds the plugin class Airflow loads (import-light: every task process loads
plugins); the page itself is built in the api-server only, on its first request.
"""
