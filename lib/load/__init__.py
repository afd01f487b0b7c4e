"""Load generators: drive ab (ab), wrk (wrk) or the built-in Python engine
(pyload) against one URL, and pick one and refuse what it cannot measure
(engines). Each returns a core.loadresult.LoadResult.

May import: lib.core, lib.machine, lib.parser, lib.server.
"""
