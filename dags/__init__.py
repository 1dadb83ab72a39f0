"""Airflow DAGs of ucid (the folder Airflow reads; a package so the layering contract sees it)."""
