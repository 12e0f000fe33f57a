"""Fixtures for the Python API tests: a client on the session's server and fresh collections."""

from __future__ import annotations

import uuid

import pytest



@pytest.fixture
def name(vx):
    """A fresh collection name with a quote and a space, so that quoting stays honest; dropped after."""
    name = f'api "{uuid.uuid4().hex[:8]}" x'
    yield name
    vx.delete_collection(name)


@pytest.fixture
def docs(vx, name):
    """A fresh 3-dimensional collection."""
    return vx.get_or_create_collection(name, dimension=3)


@pytest.fixture
def filled(docs):
    """``docs`` with four records."""
    docs.upsert(
        [
            ("a", [1.0, 0.0, 0.0], {"year": 1973, "genre": "drama"}),
            ("b", [0.0, 1.0, 0.0], {"year": 2012, "genre": "comedy", "info": {"lang": "en"}}),
            ("c", [0.0, 0.0, 1.0], {"year": 2020, "genre": "drama", "archived": True}),
            ("d", [1.0, 1.0, 0.0], {"year": 2001, "genre": "horror", "tags": ["x", "y"]}),
        ]
    )
    return docs
