"""The domain: values, errors, rules, ports and the typed inputs the use cases take. Imports no SDK."""
