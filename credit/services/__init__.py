"""Use cases. Each public function is one transaction (one unit of work)."""
