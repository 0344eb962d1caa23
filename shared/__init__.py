"""Tenant Auth Status: domain/, usecases/ and adapters/, plus config, bootstrap and views.

Nothing here imports azure.functions, functions/ or tools/ (import-linter contracts in pyproject.toml).
"""
