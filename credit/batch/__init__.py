"""Batch rating of whole populations (信用评价结果公示), spreadsheet import and export, and
model impact analysis.

The only package of ``credit`` that uses pandas. The batch engine (:mod:`.vector`)
scores every subject of a population at once, column by column, and must agree to the
cent with the single-subject engine :func:`credit.domain.engine.evaluate`, which stays
the normative implementation of MODEL.md.
"""
