"""The pure domain core: vocabulary, dates, the scoring engine and its trace.

Imports only the standard library. Nothing here reads the clock or touches I/O:
time and knowledge are always parameters.
"""
