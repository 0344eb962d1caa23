"""Tenant Auth Status domain: models, use cases and their storage adapters (no azure.functions here)."""
