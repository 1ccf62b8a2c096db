"""The cyclic garbage collector tuned for a long-running process that computes digests.

`coherence serve` calls it once started, and the drawing process (`bot.drawer`) once it has
loaded what computing and drawing a batch of digests needs.
"""

from __future__ import annotations

import gc

YOUNG_COLLECTION_OBJECTS = 10_000


def exempt_start_up_objects() -> None:
    """Move every object alive now (the modules, the app, the ORM's mappings: some 150,000)
    out of the cyclic garbage collector's reach, as a long-running process should once it has
    started. Otherwise every full collection walks them all again, and drawing a batch of
    digests, which builds tens of thousands of short-lived objects, sets off many: a third of
    the digests' compute went there (`make bench`).

    The youngest generation is also collected every `YOUNG_COLLECTION_OBJECTS` allocations
    instead of 700: a batch of digests allocates a few hundred thousand objects that live
    until the batch is posted, and at 700 the collector examined them over and over (1,100
    young and 9 full collections per 500 digests, an eighth of their compute; 55 and 1 at
    10,000). The garbage it leaves uncollected meanwhile is at most that many objects."""
    gc.collect()
    gc.freeze()
    _, middle, oldest = gc.get_threshold()
    gc.set_threshold(YOUNG_COLLECTION_OBJECTS, middle, oldest)
