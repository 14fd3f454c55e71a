"""The consumer matrix: every file kind we write, read or used by the programs suppliers run.

``files`` builds the files once per session with the library; one module per consumer runs it
(``java``, ``golang``, ``mono``, ``node``); ``matrix`` declares every cell (consumer x kind, the
result, the consumer's own limits) and renders docs/compatibility.md's table from them.
"""
