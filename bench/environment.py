"""What every benchmark does first: drop the settings that would change what it measures.

An exported PERSISTENCE_MODULE, cipher, compressor, cache or key store setting (bare, or
with a service's prefix) would make a run measure something else than the README says, and
the benchmarks build their own stores; they say what they removed.
"""

import os
from collections.abc import Iterable

STORE_SETTINGS = (
    "PERSISTENCE_MODULE", "SQLITE_", "POSTGRES_", "CIPHER_", "COMPRESSOR_", "IS_SNAPSHOTTING",
    "AGGREGATE_CACHE", "DEEPCOPY_FROM_AGGREGATE_CACHE", "TANDEM_KEY_STORE", "TANDEM_KEYS_",
)


def scrub_environment(service_prefixes: Iterable[str], exact: Iterable[str] = ()) -> list[str]:
    """Remove the store settings, bare or with one of these prefixes, and the `exact` names;
    returns what was removed."""
    prefixes, exact = tuple(service_prefixes), set(exact)
    removed = []
    for key in list(os.environ):
        name = key
        for prefix in prefixes:
            name = name.removeprefix(prefix)
        if key in exact or name.startswith(STORE_SETTINGS):
            removed.append(key)
            del os.environ[key]
    return removed
