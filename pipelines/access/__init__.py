"""Who may do what: roles and the one policy table, local accounts, API tokens, the audit log."""
