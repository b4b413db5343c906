"""An import's rejects list: the file beside the imported one that names every rejected
row or line and why (``credit import``, ``credit tenders import``).

Whatever stands in the way of writing it — a directory of that name, no permission, a
folder that is no folder — is found before anything is imported: the operator would
otherwise lose the reasons, or be told the import failed after rows were committed."""

from __future__ import annotations

from pathlib import Path


class RejectsNotWritable(ValueError):
    """The rejects list could not be written beside the file: found before any row or
    line was imported."""


def check_writable(rejects_path: Path) -> None:
    """Create the rejects list (and remove it again if it was not there)."""
    existed = rejects_path.exists()
    try:
        with open(rejects_path, "a", encoding="utf-8"):
            pass
    except OSError as exc:
        raise RejectsNotWritable(f"the rejects list {rejects_path} cannot be written "
                                 f"({exc.strerror or exc}): nothing was imported.") from None
    if not existed:
        rejects_path.unlink(missing_ok=True)  # another import of the same file may have removed it
