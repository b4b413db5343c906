"""Batch commands of the ``credit`` CLI (registered at the end of ``credit/cli.py``):
``rate-all``, ``import`` and ``compare-models``. Operators' tools: they act under the
operator's name and write the audit log like any other write."""

from __future__ import annotations

import importlib
import sys

import click

from credit.domain.dates import parse_instant
from credit.domain.model import SECTORS
from credit.errors import CreditError

PROGRESS_MIN_ROWS = 1000
#: How to install what the batch commands need beyond the service (setup.cfg's extra).
BATCH_EXTRA = "pip install 'credit-keqiao[batch]'"


def _day(ctx, param, value):
    """A date as the API takes it (inputs.Day: YYYY-MM-DD within 2000 … 2099)."""
    from marshmallow import ValidationError

    from credit.services.inputs import Day
    if value is None:
        return None
    try:
        return Day().deserialize(value)
    except ValidationError as exc:
        raise click.BadParameter(" ".join(exc.messages)) from None


def _instant(ctx, param, value):
    if value is None:
        return None
    try:
        return parse_instant(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None


def _context():
    from credit.cli import _context
    return _context()


def _operator() -> str:
    from credit.cli import _operator
    return _operator()


def _fail(exc: CreditError, code: int = 2):
    from credit.cli import _fail
    _fail(exc, code)


def require_batch_extra(*modules: str) -> None:
    """Exit 2 naming the ``batch`` extra when one of ``modules`` (pyarrow, matplotlib)
    cannot be imported: a service installed without the extra runs every other command,
    and a batch command says what to install before it touches the database."""
    for module in modules:
        try:
            importlib.import_module(module)
        except ImportError as exc:
            click.echo(f"error: this command needs {module}, which is not installed "
                       f"({exc}). It is part of the batch extra: {BATCH_EXTRA}", err=True)
            sys.exit(2)


def _plotting(plot) -> tuple[str, ...]:
    return ("matplotlib",) if plot else ()


sector_option = click.option("--sector", required=True, type=click.Choice(SECTORS))
as_of_option = click.option("--as-of", "as_of", required=True, callback=_day,
                            help="the valid-time date rated (YYYY-MM-DD)")
known_at_option = click.option(
    "--known-at", "known_at", callback=_instant,
    help="RFC 3339 instant whose knowledge is used, at least 1 s (the clock skew the "
         "service allows) in the past; default: everything on file")
plot_option = click.option("--plot", type=click.Path(dir_okay=False),
                           help="also draw a PNG picture to this file")


@click.command("rate-all")
@sector_option
@as_of_option
@known_at_option
@click.option("--model", default=None, help="id@version; default the active model")
@click.option("--out", required=True, type=click.Path(dir_okay=False),
              help=".csv, .xlsx or .parquet")
@plot_option
def rate_all_command(sector, as_of, known_at, model, out, plot) -> None:
    """Rate every registered enterprise (信用评价结果公示), one row each, sorted by USCC;
    the run is logged once as ``ratings.exported``."""
    require_batch_extra("pyarrow", *_plotting(plot))
    from credit.batch.ratings import rate_all
    try:
        result = rate_all(_context(), _operator(), sector=sector, as_of=as_of, out=out,
                          known_at=known_at, model=model, plot=plot)
    except CreditError as exc:
        _fail(exc)
    click.echo(result.text())


@click.command("compare-models")
@click.option("--from", "before", required=True, help="id@version of the model in use")
@click.option("--to", "after", required=True, help="id@version of the candidate model")
@sector_option
@as_of_option
@known_at_option
@click.option("--out", required=True, type=click.Path(dir_okay=False), help=".xlsx")
@plot_option
def compare_models_command(before, after, sector, as_of, known_at, out, plot) -> None:
    """Shadow-score the whole population under two model versions: grade migration,
    score changes, and the enterprises whose grade or eligibility changes."""
    require_batch_extra("pyarrow", *_plotting(plot))
    from credit.batch.ratings import compare_models
    try:
        result = compare_models(_context(), _operator(), before=before, after=after,
                                sector=sector, as_of=as_of, out=out, known_at=known_at,
                                plot=plot)
    except CreditError as exc:
        _fail(exc)
    click.echo(result.text())


@click.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@sector_option
@click.option("--entered-by", "entered_by", required=True,
              help="the operator entering the decisions, e.g. 柯桥区住房和城乡建设局 张三")
@click.option("--batch-size", default=1000, show_default=True, type=click.IntRange(1, 10_000),
              help="rows per transaction")
@click.option("--max-uncompressed-mib", "max_mib", default=200, show_default=True,
              type=click.IntRange(1, 100_000),
              help="refuse a file that is (or, an .xlsx, unpacks to) more than this")
@click.option("--max-rows", default=1_000_000, show_default=True,
              type=click.IntRange(1, 100_000_000), help="refuse a sheet with more rows")
def import_command(file, sector, entered_by, batch_size, max_mib, max_rows) -> None:
    """Import penalty and award decisions from a .csv or .xlsx file, one row each.

    Every row is validated exactly as POST /records validates it; rejected rows go to
    FILE.rejects.csv. Exit status: 0 all rows on file, 1 some rows rejected, 2 the file
    could not be imported (also a file over --max-uncompressed-mib or --max-rows: a zip
    bomb is refused before any row is imported), 3 a problem of the file, or a failure
    of the database, met after some rows were committed (they stay; import the mended
    file again)."""
    from credit.batch.importer import ImportStopped, import_file
    from credit.batch.sheets import SheetProblem
    from credit.batch.xlsx import MIB, Limits
    from credit.services.rejects_lists import RejectsNotWritable

    entered_by = _operator_name(entered_by)
    tty = sys.stderr.isatty()
    bar = None

    def progress(done: int, total: int) -> None:
        nonlocal bar
        if not tty or total < PROGRESS_MIN_ROWS:
            return
        if bar is None:
            bar = click.progressbar(length=total, label="importing", file=sys.stderr,
                                    show_pos=True)
            bar.__enter__()
        bar.update(done - bar.pos)

    if tty:
        click.echo(f"reading {file} …", err=True)
    try:
        summary = import_file(_context(), file, sector=sector, entered_by=entered_by,
                              batch_size=batch_size, progress=progress,
                              limits=Limits(max_uncompressed=max_mib * MIB, max_rows=max_rows))
    except ImportStopped as exc:
        click.echo(exc.summary.text())
        click.echo(f"error: {exc} Rows up to row {exc.summary.committed_through} were "
                   "imported before it; nothing after.", err=True)
        sys.exit(3)
    except SheetProblem as exc:
        click.echo(f"error: {exc} Nothing was imported.", err=True)
        sys.exit(2)
    except RejectsNotWritable as exc:  # found before the first row
        click.echo(f"error: {exc}", err=True)
        sys.exit(2)
    except CreditError as exc:
        _fail(exc)
    finally:
        if bar is not None:
            bar.__exit__(None, None, None)
    click.echo(summary.text())
    sys.exit(1 if summary.rejected_rows else 0)


def _operator_name(entered_by: str) -> str:
    """The operator the rows are entered as (the actor of their audit entries): 1–200
    characters of storable text, as a token's name (a name that is not UTF-8 would
    otherwise fail the import halfway, with a traceback)."""
    from credit.services.tokens import actor_name_problem
    name = entered_by.strip()
    problem = actor_name_problem(name)
    if problem:
        raise click.BadParameter(f"the operator's name {problem[0]}",
                                 param_hint="--entered-by")
    return name
