"""The collusion screens of WARNINGS.md §4 (标中预警), pure functions of a tender, the
screen definition and a snapshot of what was known before its registration."""
