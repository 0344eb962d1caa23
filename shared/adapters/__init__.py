"""Adapters: the ports of shared.domain implemented on Azure Table Storage, Key Vault and a local file.

Only shared.bootstrap builds them.
"""
