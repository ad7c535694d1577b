"""SQL identity backend: users, groups and memberships in Cumulo's database."""
