"""The public surface: every name vecs 0.4.5 exports, with its shape."""

from __future__ import annotations

import dataclasses
import importlib
import inspect

import pytest

import vecs_sqlgen as vecs
from vecs_sqlgen import exc

VECS_NAMES = [
    "IndexArgsIVFFlat",
    "IndexArgsHNSW",
    "IndexMethod",
    "IndexMeasure",
    "Collection",
    "Client",
    "exc",
    "create_client",
]


@pytest.mark.parametrize("name", VECS_NAMES + ["adapter", "__version__"])
def test_top_level_names(name):
    assert hasattr(vecs, name)
    assert name in vecs.__all__


def test_version():
    from vecs_sqlgen._version import __version__

    assert vecs.__version__ == __version__


def test_adapter_module_names():
    adapter = importlib.import_module("vecs_sqlgen.adapter")
    assert vecs.adapter is adapter
    for name in ("Adapter", "AdapterContext", "AdapterStep", "NoOp", "ParagraphChunker", "MarkdownChunker", "TextEmbedding"):
        assert hasattr(adapter, name), name


def test_exception_names_and_hierarchy():
    for name in ("VecsException", "CollectionAlreadyExists", "CollectionNotFound", "ArgError", "FilterError",
                 "IndexNotFound", "MismatchedDimension", "MissingDependency", "Unreachable"):  # fmt: skip
        assert issubclass(getattr(exc, name), exc.VecsException)
    assert issubclass(exc.MismatchedDimension, exc.ArgError)
    assert issubclass(exc.InvalidRecord, exc.ArgError)
    assert issubclass(exc.UnsupportedFeature, exc.ArgError)
    assert issubclass(exc.MissingDependency, ImportError)


def test_enums_as_vecs():
    assert [m.value for m in vecs.IndexMethod] == ["auto", "ivfflat", "hnsw"]
    # vecs's four, then the bit collections' two (ours, issue 13)
    assert [m.value for m in vecs.IndexMeasure] == ["cosine_distance", "l2_distance", "max_inner_product", "l1_distance",
                                                   "hamming_distance", "jaccard_distance"]
    assert vecs.IndexMeasure("l2_distance") is vecs.IndexMeasure.l2_distance
    assert vecs.IndexMethod.hnsw == "hnsw"  # str enums: plain strings work where enums are expected


def test_index_args_dataclasses():
    assert vecs.IndexArgsHNSW() == vecs.IndexArgsHNSW(m=16, ef_construction=64)
    assert vecs.IndexArgsIVFFlat(n_lists=7).n_lists == 7
    assert [f.name for f in dataclasses.fields(vecs.IndexArgsHNSW)] == ["m", "ef_construction"]
    with pytest.raises(TypeError):
        vecs.IndexArgsIVFFlat()


def test_create_client_signature():
    params = inspect.signature(vecs.create_client).parameters
    assert list(params)[0] == "connection_string" and params["connection_string"].default is None
    assert params["schema"].kind is inspect.Parameter.KEYWORD_ONLY and params["schema"].default == "vecs"


def _params(func):
    return {name: (p.kind, p.default) for name, p in inspect.signature(func).parameters.items() if name != "self"}


def test_method_signatures_match_vecs():
    P, K = inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY
    C = vecs.Collection
    assert _params(C.query) == {
        "data": (P, inspect.Parameter.empty), "limit": (P, 10), "filters": (P, None),
        "measure": (P, vecs.IndexMeasure.cosine_distance), "include_value": (P, False),
        "include_metadata": (P, False), "include_vector": (P, False),
        "probes": (K, None), "ef_search": (K, None), "skip_adapter": (K, False),
        "rerank": (K, None),  # ours (issue 13)
    }  # fmt: skip
    assert _params(C.create_index) == {
        "measure": (P, vecs.IndexMeasure.cosine_distance), "method": (P, vecs.IndexMethod.auto),
        "index_arguments": (P, None), "replace": (P, True), "filters": (K, None),  # filters: ours (issue 11)
        "progress": (K, None),  # ours (issue 15)
        "quantization": (K, None), "dimensions": (K, None),  # ours (issue 13)
    }  # fmt: skip
    assert list(_params(C.upsert))[:2] == ["records", "skip_adapter"]
    assert _params(C.upsert)["skip_adapter"] == (P, False)
    assert _params(C.delete) == {"ids": (P, None), "filters": (P, None)}
    assert list(_params(C.fetch)) == ["ids"]
    assert list(_params(C.__init__)) == ["name", "dimension", "client", "adapter", "vector_type"]
    assert _params(C.__init__)["vector_type"] == (K, "vector")  # ours (issue 13)
    Cl = vecs.Client
    assert _params(Cl.get_or_create_collection) == {
        "name": (P, inspect.Parameter.empty), "dimension": (K, None), "adapter": (K, None),
        "vector_type": (K, None),  # ours (issue 13)
    }  # fmt: skip
    assert list(_params(Cl.create_collection)) == ["name", "dimension", "vector_type"]
    assert list(_params(Cl.get_collection)) == ["name"]
    for method in ("list_collections", "delete_collection", "disconnect", "__enter__", "__exit__", "_supports_hnsw"):
        assert callable(getattr(Cl, method))
