"""A served score's append in one call on PostgreSQL (issue 10, nineteenth pass).

``audit_append_served`` does, inside the server and in one autocommit statement, what
the append of one served score did in two round trips (read the head, then the guarded
INSERT) and, when another writer had moved the head in between, three more (the locked
way): it takes the append lock, reads the head and the token's revocation *after* the
lock (a PL/pgSQL function's statements each take a fresh snapshot under READ
COMMITTED), derives ``position`` = head + 1 and ``at`` = max(now, head's at + 1 µs)
exactly as audit_log.py does, writes nothing when the token is revoked or would have
expired by that ``at``, and otherwise inserts the entry.

The entry's exact text stays Python's (audit_log.entry_text): the caller sends the
two pieces of audit_log.entry_pieces, everything up to the ``at``'s value and
everything from after it up to the position's digits, and the function only fills in
the three values known under the lock (the ``at`` in quotes, as format_instant writes
it; the position; the previous hash in quotes) and closes the object; none of them ever
needs escaping. sha256 hashes the text's UTF-8 bytes, as canonical.sha256_hex does.
tests/integration/test_served_append_function.py holds the function's text and hash to
Python's for the same inputs, and ``credit audit verify`` re-hashes every entry.

The ``at`` is formatted from its microseconds: whole seconds and the microseconds
apart, each turned into an interval (a product PostgreSQL computes in double precision,
exact: a count of seconds times 10**6 = 2**6 * 15625 loses no bit anywhere in the
timestamp range; checked against Python for years 1 to 9999), added to 1970-01-01
08:00 (China Standard Time, UTC+8, no daylight saving), so the text is
``YYYY-MM-DDTHH:MM:SS.ffffff+08:00`` to the microsecond. to_char's numeric fields do
not depend on the locale.

A later change to the function is a new revision that replaces it, never an edit here.
SQLite has no stored functions and needs none: its appends cost no round trip.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-06
"""
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

# audit_log.APPEND_LOCK (ASCII "CREDITLG"), written out: a migration never imports
# code that may change after it.
_APPEND_LOCK = 0x4352454449544C47

_FUNCTION = f"""
CREATE FUNCTION audit_append_served(
    p_kind text, p_actor text, p_uscc text, p_before_at text, p_after_at text,
    p_now_us bigint, p_token bigint, p_expires_us bigint)
RETURNS TABLE (entry_position bigint, entry_at text, entry_sha256 text)
LANGUAGE plpgsql VOLATILE AS $body$
DECLARE
    h_position bigint := 0;
    h_at bigint;
    h_sha text := repeat('0', 64);
    v_at bigint;
    v_text text;
BEGIN
    PERFORM pg_advisory_xact_lock({_APPEND_LOCK});
    IF p_token IS NOT NULL AND EXISTS (
            SELECT 1 FROM token_revocations r WHERE r.token_id = p_token) THEN
        RETURN;
    END IF;
    SELECT e.position, e.at_us, e.sha256 INTO h_position, h_at, h_sha
        FROM audit_entries e ORDER BY e.position DESC LIMIT 1;
    IF NOT FOUND THEN
        h_position := 0;
        h_sha := repeat('0', 64);
    END IF;
    v_at := CASE WHEN h_at IS NULL THEN p_now_us ELSE greatest(p_now_us, h_at + 1) END;
    IF p_expires_us IS NOT NULL AND v_at >= p_expires_us THEN
        RETURN;
    END IF;
    entry_position := h_position + 1;
    entry_at := to_char(timestamp '1970-01-01 08:00:00'
                        + (v_at / 1000000) * interval '1 second'
                        + (v_at % 1000000) * interval '1 microsecond',
                        'YYYY-MM-DD"T"HH24:MI:SS.US') || '+08:00';
    v_text := p_before_at || '"' || entry_at || '"' || p_after_at || entry_position::text
              || ',"prev_sha256":"' || h_sha || '"}}';
    entry_sha256 := encode(sha256(convert_to(v_text, 'UTF8')), 'hex');
    INSERT INTO audit_entries (position, kind, at_us, actor, uscc, text, sha256)
        VALUES (entry_position, p_kind, v_at, p_actor, p_uscc, v_text, entry_sha256);
    RETURN NEXT;
END
$body$
"""

_SIGNATURE = "audit_append_served(text, text, text, text, text, bigint, bigint, bigint)"


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(_FUNCTION)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"DROP FUNCTION {_SIGNATURE}")
