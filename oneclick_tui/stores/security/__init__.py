"""Database hardening: roles, row-level security scope, field encryption, audit chain, TLS.

The database enforces these (see migration 0003); this package is the Python side: naming the
roles, setting the per-transaction user, encrypting private fields, verifying the audit chain.
"""
